import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import TaskCard from '@/components/TaskCard.vue'
import { applyLocale } from '@/locales'
import { useCatalogStore } from '@/stores/catalog'
import { isLocalId, useTasksStore } from '@/stores/tasks'
import { jsonResponse, makeTask, plugins, setupStores } from '../helpers'
import { MockEventSource, mockFetch } from '../mocks'

enableAutoUnmount(afterEach)

const created = { task_id: 't1', status: 'pending', message: 'queued', created_at: '2026-01-01T00:00:00Z' }

/** A fetch answer the test releases by hand, to look at the card while the request is out. */
function deferred(): { promise: Promise<Response>; resolve: (r: Response) => void } {
  let resolve: (r: Response) => void = () => undefined
  const promise = new Promise<Response>((r) => (resolve = r))
  return { promise, resolve }
}

describe('a submit shows its card before the server answers', () => {
  beforeEach(() => {
    applyLocale('en')
    MockEventSource.reset()
    vi.stubGlobal('EventSource', MockEventSource)
  })
  afterEach(() => {
    useTasksStore().stopAll()
    vi.unstubAllGlobals()
    vi.useRealTimers()
  })

  it('is "sending" at once, then becomes the real task in the same place', async () => {
    const pinia = setupStores()
    const answer = deferred()
    mockFetch({ 'POST /api/v1/generate/text2image': () => answer.promise })
    const tasks = useTasksStore()
    tasks.upsert(makeTask({ task_id: 'older', status: 'completed' }))
    tasks.sessionIds = ['older']
    const done = tasks.submit('text2image', { model: 'demo', prompt: 'a fox', num_images: 2 })

    expect(tasks.sessionIds).toHaveLength(2)
    const localId = tasks.sessionIds[0]!
    expect(isLocalId(localId)).toBe(true)
    const wrapper = mount(TaskCard, { props: { task: tasks.tasks[localId]! }, global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="task-card"]').attributes('data-status')).toBe('sending')
    expect(wrapper.get('[data-testid="task-progress-text"]').text()).toBe('Sending to the server…')
    expect(wrapper.text()).toContain('a fox')
    // nothing to cancel or favourite on the server yet
    expect(wrapper.find('[data-testid="cancel-button"]').exists()).toBe(false)

    answer.resolve(jsonResponse(created, 202))
    await expect(done).resolves.toBe('t1')
    expect(tasks.sessionIds).toEqual(['t1', 'older'])
    expect(tasks.tasks[localId]).toBeUndefined()
    expect(tasks.sending[localId]).toBeUndefined()
    expect(tasks.tasks.t1).toMatchObject({ status: 'pending', expected_images: 2 })
    expect(JSON.parse(sessionStorage.getItem('vis.session-tasks') ?? '[]')).toEqual(['t1', 'older'])
  })

  it('keeps a refusal on its card, and Retry sends the same request again', async () => {
    const pinia = setupStores()
    let calls = 0
    mockFetch({
      'POST /api/v1/generate/text2image': () =>
        ++calls === 1
          ? jsonResponse({ error: { code: 'budget_exceeded', message: '每日预算已用完。' } }, 402)
          : jsonResponse(created, 202),
    })
    const tasks = useTasksStore()
    await expect(tasks.submit('text2image', { model: 'demo', prompt: 'over the cap' })).rejects.toMatchObject({
      code: 'budget_exceeded',
    })
    const localId = tasks.sessionIds[0]!
    expect(tasks.tasks[localId]).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } })
    // never kept across a reload: the request made nothing
    expect(JSON.parse(sessionStorage.getItem('vis.session-tasks') ?? '[]')).not.toContain(localId)
    const wrapper = mount(TaskCard, { props: { task: tasks.tasks[localId]! }, global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="task-card"]').attributes('data-status')).toBe('failed')
    expect(wrapper.get('[data-testid="task-error"]').text()).toBe('每日预算已用完。')

    await wrapper.get('[data-testid="retry-button"]').trigger('click')
    await flushPromises()
    expect(calls).toBe(2)
    expect(tasks.sessionIds).toEqual(['t1'])
    expect(tasks.tasks[localId]).toBeUndefined()
  })

  it('dismissing a refused card forgets it', async () => {
    setupStores()
    mockFetch({ 'POST /api/v1/generate/text2image': () => Promise.reject(new TypeError('Failed to fetch')) })
    const tasks = useTasksStore()
    await tasks.submit('text2image', { model: 'demo', prompt: 'offline' }).catch(() => undefined)
    const localId = tasks.sessionIds[0]!
    expect(tasks.tasks[localId]?.status).toBe('failed')
    tasks.dismiss(localId)
    expect(tasks.sessionIds).toEqual([])
    expect(tasks.tasks[localId]).toBeUndefined()
  })
})

describe('a running card tells the time', () => {
  afterEach(() => vi.useRealTimers())

  it('ticks the elapsed time and shows the model\'s typical duration', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-01-01T00:01:05Z'))
    applyLocale('en')
    const pinia = setupStores()
    useCatalogStore().typicalSeconds = { demo: 12.4 }
    const task = makeTask({ status: 'processing', started_at: '2026-01-01T00:00:00Z' })
    const wrapper = mount(TaskCard, { props: { task }, global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="task-elapsed"]').text()).toBe('1 min 05 s elapsed')
    expect(wrapper.get('[data-testid="task-typical"]').text()).toBe('· usually ~12 s')
    await vi.advanceTimersByTimeAsync(2000)
    expect(wrapper.get('[data-testid="task-elapsed"]').text()).toBe('1 min 07 s elapsed')

    applyLocale('zh-CN')
    await wrapper.setProps({ task: { ...task } })
    expect(wrapper.get('[data-testid="task-elapsed"]').text()).toBe('已用 1 分 07 秒')
    await wrapper.setProps({ task: { ...task, status: 'completed', completed_at: '2026-01-01T00:00:09Z' } })
    expect(wrapper.find('[data-testid="task-elapsed"]').exists()).toBe(false)
    expect(wrapper.text()).toContain('9 秒')
    wrapper.unmount()
  })

  it('numbers the images still to come in a group', () => {
    applyLocale('en')
    const pinia = setupStores()
    const task = makeTask({ status: 'processing', started_at: new Date().toISOString(), expected_images: 4 })
    const wrapper = mount(TaskCard, { props: { task }, global: { plugins: plugins(pinia) } })
    const slots = wrapper.findAll('[data-testid="result-waiting"]')
    expect(slots.map((s) => s.text())).toEqual(['1 / 4', '2 / 4', '3 / 4', '4 / 4'])
  })
})

describe('typical durations', () => {
  it('are loaded from this install\'s history', async () => {
    setupStores()
    mockFetch({
      'GET /api/v1/models/durations': () => jsonResponse({ items: [{ model: 'demo', median_seconds: 3.5, samples: 9 }] }),
    })
    const catalog = useCatalogStore()
    await catalog.loadDurations(true)
    expect(catalog.typicalSeconds).toEqual({ demo: 3.5 })
  })
})

describe('where the upstream is', () => {
  it('says it beside the image count while the job runs, in the UI language', () => {
    applyLocale('zh-CN')
    const pinia = setupStores()
    const task = makeTask({ status: 'processing', started_at: new Date().toISOString(), expected_images: 2 })
    const wrapper = mount(TaskCard, { props: { task: { ...task, upstream_state: 'queued' } }, global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="task-progress-text"]').text()).toBe('已完成 0 / 2 张 · 在服务商处排队中…')
    applyLocale('en')
    return wrapper.setProps({ task: { ...task, upstream_state: 'downloading' } }).then(() => {
      expect(wrapper.get('[data-testid="task-progress-text"]').text()).toBe('0 of 2 images · Downloading the images…')
    })
  })
})
