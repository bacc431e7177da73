import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, ref } from 'vue'
import type { HistoryPage, HistoryQuery } from '@/api/types'
import { useGallery } from '@/composables/useGallery'
import { applyLocale } from '@/locales'
import HistoryPageView from '@/pages/HistoryPage.vue'
import { jsonResponse, makeTask, output, plugins, setupStores, testRouter } from '../helpers'
import { MockIntersectionObserver, mockFetch } from '../mocks'

function page(n: number, size: number, total: number): HistoryPage {
  const start = (n - 1) * size
  const items = Array.from({ length: Math.max(0, Math.min(size, total - start)) }, (_, i) => {
    const id = `t${start + i}`
    return makeTask({ task_id: id, status: 'completed', outputs: [output(0, id)] })
  })
  return { total, items, page: n, page_size: size }
}

describe('useGallery', () => {
  it('loads page after page until the total is reached', async () => {
    const fetchPage = vi.fn(async (q: HistoryQuery) => page(q.page ?? 1, q.page_size ?? 60, 130))
    const scope = effectScope()
    const gallery = scope.run(() => useGallery(ref(''), { pageSize: 60, fetchPage }))!
    await gallery.loadMore()
    await gallery.loadMore()
    expect(gallery.items.value).toHaveLength(120)
    expect(gallery.done.value).toBe(false)
    await gallery.loadMore()
    expect(gallery.items.value).toHaveLength(130)
    expect(gallery.done.value).toBe(true)
    await gallery.loadMore()
    expect(fetchPage).toHaveBeenCalledTimes(3)
    scope.stop()
  })

  it('follows next_cursor after the first page and stops when the server says it was the last', async () => {
    const queries: HistoryQuery[] = []
    const fetchPage = vi.fn(async (q: HistoryQuery) => {
      queries.push(q)
      const n = q.cursor ? Number(q.cursor.slice(1)) : 1
      return { ...page(n, 10, 25), page: q.page ?? 1, next_cursor: n < 3 ? `c${n + 1}` : null }
    })
    const scope = effectScope()
    const gallery = scope.run(() => useGallery(ref('fox'), { pageSize: 10, fetchPage }))!
    for (let i = 0; i < 4; i++) await gallery.loadMore()
    expect(queries).toEqual([
      { page: 1, page_size: 10, q: 'fox' },
      { cursor: 'c2', page_size: 10, q: 'fox' },
      { cursor: 'c3', page_size: 10, q: 'fox' },
    ])
    expect(gallery.items.value.map((t) => t.task_id)).toEqual(Array.from({ length: 25 }, (_, i) => `t${i}`))
    expect(gallery.done.value).toBe(true)
    await gallery.reset()
    expect(queries.at(-1)).toEqual({ page: 1, page_size: 10, q: 'fox' })
    scope.stop()
  })

  it('aborts the load in flight when the filters change, and starts again from page 1', async () => {
    const signals: AbortSignal[] = []
    const queries: HistoryQuery[] = []
    const fetchPage = vi.fn(
      (q: HistoryQuery, signal: AbortSignal) =>
        new Promise<HistoryPage>((resolve) => {
          signals.push(signal)
          queries.push(q)
          setTimeout(() => resolve(page(q.page ?? 1, 10, 15)), 5)
        }),
    )
    const search = ref('')
    const scope = effectScope()
    const gallery = scope.run(() => useGallery(search, { pageSize: 10, fetchPage }))!
    void gallery.loadMore()
    gallery.filters.favorite = true
    search.value = 'fox'
    await flushPromises()
    expect(signals[0]?.aborted).toBe(true)
    await new Promise((r) => setTimeout(r, 20))
    expect(queries.at(-1)).toEqual({ page: 1, page_size: 10, q: 'fox', favorite: true })
    expect(gallery.items.value).toHaveLength(10)
    expect(gallery.total.value).toBe(15)
    scope.stop()
  })
})

describe('HistoryPage', () => {
  beforeEach(() => {
    applyLocale('en')
    MockIntersectionObserver.instances = []
    vi.stubGlobal('IntersectionObserver', MockIntersectionObserver)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('renders cards with lazy thumbnails and fetches the next page when the sentinel shows', async () => {
    const history = vi.fn((url: URL) => {
      const n = Number(url.searchParams.get('page'))
      return jsonResponse(page(n, Number(url.searchParams.get('page_size')), 75))
    })
    mockFetch({ 'GET /api/v1/history': history, 'GET /api/v1/models': () => jsonResponse({ default_model: 'demo', models: [] }) })
    const pinia = setupStores()
    const router = testRouter()
    await router.push('/history')
    const wrapper = mount(HistoryPageView, { global: { plugins: plugins(pinia, router) }, attachTo: document.body })
    await flushPromises()
    expect(wrapper.findAll('[data-testid="history-item"]')).toHaveLength(60)
    const thumb = wrapper.get('[data-testid="history-item"] img[data-testid="history-thumb"]')
    expect(thumb.attributes('loading')).toBe('lazy')
    expect(thumb.attributes('src')).toBe('/images/2026/01/01/t0-0.thumb.webp')
    // Space is reserved from width/height before the image loads.
    expect(wrapper.get('[data-testid="history-item"]').attributes('style')).toContain('--ar: 1.3333')
    expect(wrapper.text()).toContain('75 items')

    MockIntersectionObserver.instances.at(-1)!.trigger()
    await flushPromises()
    expect(wrapper.findAll('[data-testid="history-item"]')).toHaveLength(75)
    expect(history).toHaveBeenCalledTimes(2)
    expect(history.mock.calls[1]![0].searchParams.get('page')).toBe('2')
    wrapper.unmount()
  })

  it('windows the grid: only the rows near the viewport are rendered once the grid has a width', async () => {
    const width = vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(1030)
    const history = vi.fn((url: URL) =>
      jsonResponse(page(Number(url.searchParams.get('page')), Number(url.searchParams.get('page_size')), 5000)),
    )
    mockFetch({ 'GET /api/v1/history': history, 'GET /api/v1/models': () => jsonResponse({ default_model: 'demo', models: [] }) })
    const pinia = setupStores()
    const router = testRouter()
    await router.push('/history')
    const wrapper = mount(HistoryPageView, { global: { plugins: plugins(pinia, router) }, attachTo: document.body })
    await flushPromises()
    // a few more pages arrive as the sentinel shows
    for (let i = 0; i < 4; i++) {
      MockIntersectionObserver.instances.at(-1)!.trigger()
      await flushPromises()
    }
    await new Promise((r) => setTimeout(r, 50))
    await flushPromises()
    const grid = wrapper.get('[data-testid="history-grid"]')
    expect(grid.classes()).toContain('gallery--windowed')
    const cards = wrapper.findAll('[data-testid="history-item"]')
    expect(history.mock.calls.length).toBeGreaterThanOrEqual(5)
    // 300 loaded, but only the first rows (viewport + overscan) are in the DOM
    expect(cards.length).toBeGreaterThan(0)
    expect(cards.length).toBeLessThan(120)
    expect(cards[0]!.attributes('data-task-id')).toBe('t0')
    expect(cards[0]!.find('img[data-testid="history-thumb"]').attributes('loading')).toBe('lazy')
    // the grid is as tall as every row, so the scrollbar and the sentinel reflect all loaded items
    expect(Number.parseFloat(grid.attributes('style') ?? '')).toBeNaN()
    expect(grid.attributes('style')).toMatch(/height: \d+(\.\d+)?px/)
    wrapper.unmount()
    width.mockRestore()
  })
})

