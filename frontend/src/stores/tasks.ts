/**
 * Tasks the user is watching: submitted from the Generate page (newest first) and followed live
 * through SSE (polling when the stream breaks). The queue and history pages reuse `upsert`,
 * `cancel`, `retry` and `setFavorite` so one task looks the same everywhere.
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ApiError, api } from '@/api/client'
import type { GenerateRequest, Image2ImageRequest, Task, TaskCreated, TaskType } from '@/api/types'
import { t } from '@/locales'
import { isTerminal } from '@/utils/taskStatus'
import { openLiveChannel } from '@/utils/liveChannel'
import { uuid } from '@/utils/uuid'

const SESSION_KEY = 'vis.session-tasks'
/** Cards shown before the server answered carry an id of their own, never sent anywhere. */
export const LOCAL_PREFIX = 'local-'
const SESSION_LIMIT = 30

function readSession(): string[] {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY)
    const parsed: unknown = raw ? JSON.parse(raw) : []
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

/** What a task looks like between the 202 and its first event. */
export function placeholderTask(type: TaskType, body: GenerateRequest, created: TaskCreated): Task {
  const { prompt, negative_prompt, model, ...parameters } = body
  return {
    task_id: created.task_id,
    type,
    model: model ?? '',
    provider: '',
    status: created.status,
    progress: 0,
    prompt,
    negative_prompt: negative_prompt ?? null,
    parameters: parameters as Record<string, unknown>,
    images: [],
    outputs: [],
    failures: [],
    expected_images: body.group?.max_images ?? body.num_images ?? 1,
    error: null,
    favorite: false,
    is_demo: model === 'demo',
    // Known once the server answers with the task itself (its first event).
    unit_price_cny: 0,
    cost_max_cny: 0,
    billed_images: null,
    cost_cny: null,
    created_at: created.created_at,
    started_at: null,
    completed_at: null,
    attempts: 0,
    retry_of: null,
  }
}

export function isLocalId(id: string): boolean {
  return id.startsWith(LOCAL_PREFIX)
}

interface Submission {
  type: TaskType
  body: GenerateRequest | Image2ImageRequest
}

/** The refusal of a submit, in both languages when the server gave only one (its own language). */
function refusal(error: unknown): NonNullable<Task['error']> {
  if (error instanceof ApiError) {
    // The server already answered in the UI's language (Accept-Language); both fields hold it.
    return { code: error.code, message: error.message, message_zh: error.message, retryable: error.status >= 500 }
  }
  const message = error instanceof Error && error.message ? error.message : t('errors.unexpected')
  return { code: 'client_error', message, message_zh: message, retryable: true }
}

export const useTasksStore = defineStore('tasks', () => {
  const tasks = ref<Record<string, Task>>({})
  const sessionIds = ref<string[]>([])
  // Local cards whose request is still on its way (the others are refused ones).
  const sending = ref<Record<string, boolean>>({})
  // What a local card asked for, so "retry" on a refused one sends it again.
  const submissions = new Map<string, Submission>()
  // Ids this tab follows until they end; one live channel carries them all.
  const watching = new Set<string>()
  let channel: (() => void) | null = null
  let idleTimer: ReturnType<typeof setTimeout> | null = null

  const sessionTasks = computed(() =>
    sessionIds.value.map((id) => tasks.value[id]).filter((task): task is Task => task !== undefined),
  )
  const activeCount = computed(() => sessionTasks.value.filter((task) => !isTerminal(task.status)).length)

  function persistSession(): void {
    try {
      // A local card means nothing after a reload: its request either made a task or did not.
      const real = sessionIds.value.filter((id) => !isLocalId(id))
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(real.slice(0, SESSION_LIMIT)))
    } catch {
      // not persisted: the feed just starts empty after a reload
    }
  }

  function upsert(task: Task): void {
    const known = tasks.value[task.task_id]
    // Events may overtake each other with polling in the mix: never go back to fewer images.
    if (known && isTerminal(known.status) && !isTerminal(task.status)) return
    tasks.value[task.task_id] = task
  }

  function addToSession(id: string): void {
    sessionIds.value = [id, ...sessionIds.value.filter((x) => x !== id)].slice(0, SESSION_LIMIT)
    persistSession()
  }

  function onLive(task: Task): void {
    upsert(task)
    if (isTerminal(task.status) && watching.delete(task.task_id) && !watching.size) closeWhenIdle()
  }

  function ensureChannel(): void {
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = null
    if (channel) return
    channel = openLiveChannel(onLive, {
      url: api.eventsUrl(),
      fetchTasks: async (signal) => (await api.tasks(50, signal)).items,
    })
  }

  function closeWhenIdle(): void {
    // Kept open a little: the next click usually comes soon and reuses it.
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = setTimeout(() => {
      idleTimer = null
      if (watching.size) return
      channel?.()
      channel = null
    }, 10_000)
  }

  function follow(id: string): void {
    const known = tasks.value[id]
    if (known && isTerminal(known.status)) return
    watching.add(id)
    ensureChannel()
  }

  function unfollow(id: string): void {
    if (watching.delete(id) && !watching.size) closeWhenIdle()
  }

  function replaceInSession(from: string, to: string): void {
    const next = sessionIds.value.filter((x) => x !== to)
    const at = next.indexOf(from)
    if (at < 0) {
      addToSession(to)
      return
    }
    next.splice(at, 1, to)
    sessionIds.value = next
    persistSession()
  }

  function forgetLocal(id: string): void {
    submissions.delete(id)
    delete sending.value[id]
    delete tasks.value[id]
  }

  /**
   * Send a job; its card is there at once ("sending"), becomes the real task when the server
   * answers, or keeps the refusal on it. Rejects with the server's error after showing it.
   */
  async function submit(type: TaskType, body: GenerateRequest | Image2ImageRequest, reuse?: string): Promise<string> {
    const localId = reuse ?? `${LOCAL_PREFIX}${uuid()}`
    submissions.set(localId, { type, body })
    sending.value[localId] = true
    tasks.value[localId] = placeholderTask(type, body, {
      task_id: localId,
      status: 'pending',
      message: '',
      created_at: new Date().toISOString(),
    })
    if (!reuse) addToSession(localId)
    try {
      // One key per click: a network retry of the same request cannot create a second task.
      const created = await api.generate(type, body, uuid())
      if (!tasks.value[created.task_id]) upsert(placeholderTask(type, body, created))
      replaceInSession(localId, created.task_id)
      forgetLocal(localId)
      follow(created.task_id)
      return created.task_id
    } catch (error) {
      delete sending.value[localId]
      const card = tasks.value[localId]
      if (card) tasks.value[localId] = { ...card, status: 'failed', error: refusal(error) }
      throw error
    }
  }

  async function retry(id: string): Promise<string> {
    const refused = submissions.get(id)
    if (refused) return submit(refused.type, refused.body, id)
    const created = await api.retryTask(id)
    const original = tasks.value[id]
    if (!tasks.value[created.task_id]) {
      const base: GenerateRequest = original
        ? { ...(original.parameters as Partial<GenerateRequest>), prompt: original.prompt, model: original.model }
        : { prompt: '' }
      upsert(placeholderTask(original?.type ?? 'text2image', base, created))
    }
    // The retry takes the failed card's place in the feed.
    const at = sessionIds.value.indexOf(id)
    if (at >= 0) {
      const next = [...sessionIds.value]
      next.splice(at, 1, created.task_id)
      sessionIds.value = next
      persistSession()
    } else {
      addToSession(created.task_id)
    }
    follow(created.task_id)
    return created.task_id
  }

  async function cancel(id: string): Promise<void> {
    const answer = await api.cancelTask(id)
    if (answer && typeof answer === 'object' && 'task_id' in answer) upsert(answer)
    else {
      const known = tasks.value[id]
      if (known) upsert({ ...known, status: 'cancelled' })
    }
  }

  async function setFavorite(id: string, favorite: boolean): Promise<Task> {
    const updated = await api.setFavorite(id, favorite)
    upsert(updated)
    return updated
  }

  function dismiss(id: string): void {
    unfollow(id)
    if (isLocalId(id) && !sending.value[id]) forgetLocal(id)
    sessionIds.value = sessionIds.value.filter((x) => x !== id)
    persistSession()
  }

  function clearFinished(): void {
    sessionIds.value = sessionIds.value.filter((id) => {
      const task = tasks.value[id]
      const keep = task !== undefined && !isTerminal(task.status)
      if (!keep && isLocalId(id)) forgetLocal(id)
      return keep
    })
    persistSession()
  }

  /** After a reload: bring back the feed of this browser tab and resume following. */
  async function restoreSession(): Promise<void> {
    const ids = readSession().filter((id) => !sessionIds.value.includes(id))
    if (!ids.length) return
    const results = await Promise.allSettled(ids.map((id) => api.task(id)))
    const kept: string[] = []
    results.forEach((result, i) => {
      const id = ids[i]
      if (id && result.status === 'fulfilled') {
        upsert(result.value)
        kept.push(id)
        follow(id)
      }
    })
    // Anything submitted while we were loading stays on top.
    sessionIds.value = [...sessionIds.value, ...kept.filter((id) => !sessionIds.value.includes(id))]
    persistSession()
  }

  function stopAll(): void {
    watching.clear()
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = null
    channel?.()
    channel = null
  }

  return {
    tasks,
    sessionIds,
    sessionTasks,
    sending,
    activeCount,
    upsert,
    follow,
    unfollow,
    submit,
    retry,
    cancel,
    setFavorite,
    dismiss,
    clearFinished,
    restoreSession,
    stopAll,
  }
})
