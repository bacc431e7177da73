/**
 * The history gallery's data: filtered pages fetched one at a time as the user scrolls, each
 * load cancellable (a new filter aborts the one in flight), items kept in one flat list.
 * After the first page it follows the server's `next_cursor` (keyset: a page deep in 100,000 items
 * costs what the first does, and a task finished meanwhile shifts nothing, where OFFSET pages
 * would repeat an item); page numbers only when the server sends no cursor.
 */
import { computed, reactive, ref, shallowRef, watch } from 'vue'
import { api, isAbortError } from '@/api/client'
import type { EditOperation, HistoryPage, HistoryQuery, Task, TaskType } from '@/api/types'
import { handleError } from '@/utils/handleError'

export interface GalleryFilters {
  model: string
  type: '' | TaskType
  favorite: boolean
  /** Only edits of this operation ('' = everything). */
  operation: '' | EditOperation
  /** YYYY-MM-DD from a date input, local time */
  since: string
  until: string
  /** a collection id ('' = any) */
  collection: string
  /** at least this many stars (0 = any) */
  minRating: number
}

export interface GalleryOptions {
  pageSize?: number
  fetchPage?: (query: HistoryQuery, signal: AbortSignal) => Promise<HistoryPage>
}

/** Local calendar day → ISO instant; `endOfDay` gives the start of the next day. */
export function dayToIso(day: string, endOfDay = false): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!match) return undefined
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + (endOfDay ? 1 : 0))
  return date.toISOString()
}

export function useGallery(search: { value: string }, options: GalleryOptions = {}) {
  const pageSize = options.pageSize ?? 60
  const fetchPage = options.fetchPage ?? api.history
  const filters = reactive<GalleryFilters>({
    model: '',
    type: '',
    favorite: false,
    operation: '',
    since: '',
    until: '',
    collection: '',
    minRating: 0,
  })
  const items = shallowRef<Task[]>([])
  const total = ref<number | null>(null)
  const loading = ref(false)
  const failed = ref(false)
  let page = 0
  // undefined: no page yet, or a server without cursors; null: the server said this was the last.
  let cursor: string | null | undefined
  let controller: AbortController | null = null
  let generation = 0

  const done = computed(
    () =>
      total.value !== null &&
      (items.value.length >= total.value || page * pageSize >= total.value || (page > 0 && cursor === null)),
  )

  function query(nextPage: number): HistoryQuery {
    const q: HistoryQuery = cursor ? { cursor, page_size: pageSize } : { page: nextPage, page_size: pageSize }
    if (search.value.trim()) q.q = search.value.trim()
    if (filters.model) q.model = filters.model
    if (filters.type) q.type = filters.type
    if (filters.favorite) q.favorite = true
    if (filters.operation) q.operation = filters.operation
    const since = dayToIso(filters.since)
    const until = dayToIso(filters.until, true)
    if (since) q.since = since
    if (until) q.until = until
    if (filters.collection) q.collection = filters.collection
    if (filters.minRating) q.min_rating = filters.minRating
    return q
  }

  async function loadMore(): Promise<void> {
    if (loading.value || done.value || failed.value) return
    const mine = generation
    controller = new AbortController()
    loading.value = true
    try {
      const result = await fetchPage(query(page + 1), controller.signal)
      if (mine !== generation) return
      page = cursor ? page + 1 : result.page || page + 1
      cursor = result.next_cursor
      total.value = result.total
      const seen = new Set(items.value.map((task) => task.task_id))
      items.value = [...items.value, ...result.items.filter((task) => !seen.has(task.task_id))]
      // A short page means the end even when `total` moved under us.
      if (result.items.length < pageSize) total.value = items.value.length
    } catch (error) {
      if (mine !== generation || isAbortError(error)) return
      failed.value = true
      handleError(error)
    } finally {
      if (mine === generation) {
        loading.value = false
        controller = null
      }
    }
  }

  /** Forget everything loaded and start again from page 1 (filters changed, or "refresh"). */
  async function reset(): Promise<void> {
    generation++
    controller?.abort()
    controller = null
    loading.value = false
    failed.value = false
    page = 0
    cursor = undefined
    total.value = null
    items.value = []
    await loadMore()
  }

  function retry(): Promise<void> {
    failed.value = false
    return loadMore()
  }

  function replace(task: Task): void {
    items.value = items.value.map((item) => (item.task_id === task.task_id ? task : item))
  }

  function remove(ids: string[]): void {
    const gone = new Set(ids)
    const before = items.value.length
    items.value = items.value.filter((task) => !gone.has(task.task_id))
    if (total.value !== null) total.value = Math.max(0, total.value - (before - items.value.length))
  }

  function abort(): void {
    generation++
    controller?.abort()
  }

  watch(
    () => [
      search.value,
      filters.model,
      filters.type,
      filters.favorite,
      filters.operation,
      filters.since,
      filters.until,
      filters.collection,
      filters.minRating,
    ],
    () => void reset(),
  )

  return { filters, items, total, loading, failed, done, loadMore, reset, retry, replace, remove, abort }
}
