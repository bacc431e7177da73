import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import TaskCard from '@/components/TaskCard.vue'
import { applyLocale } from '@/locales'
import { useTasksStore } from '@/stores/tasks'
import { jsonResponse, makeTask, output, plugins, setupStores } from '../helpers'
import { MockEventSource, mockFetch } from '../mocks'

const created = { task_id: 't1', status: 'pending', message: 'queued', created_at: '2026-01-01T00:00:00Z' }

describe('tasks store: live results', () => {
  beforeEach(() => {
    applyLocale('en')
    MockEventSource.reset()
    vi.stubGlobal('EventSource', MockEventSource)
  })
  afterEach(() => {
    useTasksStore().stopAll()
    vi.unstubAllGlobals()
  })

  it('submits with an Idempotency-Key and shows a placeholder at once', async () => {
    setupStores()
    const fetch = mockFetch({ 'POST /api/v1/generate/text2image': () => jsonResponse(created, 202) })
    const tasks = useTasksStore()
    await tasks.submit('text2image', { model: 'demo', prompt: 'a fox', num_images: 2 })
    const init = fetch.mock.calls[0]?.[1] as RequestInit
    expect((init.headers as Record<string, string>)['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(tasks.sessionTasks).toHaveLength(1)
    expect(tasks.sessionTasks[0]).toMatchObject({ task_id: 't1', status: 'pending', expected_images: 2, outputs: [] })
    expect(MockEventSource.last().url).toBe('/api/v1/events')
  })

  it('adds each image as its event arrives on the one live channel', async () => {
    const pinia = setupStores()
    mockFetch({ 'POST /api/v1/generate/text2image': () => jsonResponse(created, 202) })
    const tasks = useTasksStore()
    await tasks.submit('text2image', { model: 'demo', prompt: 'a fox', num_images: 2 })
    const wrapper = mount(TaskCard, { props: { task: tasks.sessionTasks[0]! }, global: { plugins: plugins(pinia) } })
    const source = MockEventSource.last()

    source.emit('task', makeTask({ status: 'processing', progress: 50, expected_images: 2, outputs: [output(0)] }))
    await wrapper.setProps({ task: tasks.tasks.t1! })
    expect(wrapper.findAll('img[data-testid="result-image"]')).toHaveLength(1)
    expect(wrapper.text()).toContain('1 of 2 images')

    source.emit('task', makeTask({ status: 'completed', progress: 100, expected_images: 2, outputs: [output(0), output(1)] }))
    await wrapper.setProps({ task: tasks.tasks.t1! })
    const images = wrapper.findAll('img[data-testid="result-image"]')
    expect(images).toHaveLength(2)
    expect(images[1]!.attributes('src')).toBe('/images/2026/01/01/t1-1.thumb.webp')
    expect(wrapper.find('[data-testid="demo-label"]').exists()).toBe(true)
  })

  it('follows any number of jobs over one connection', async () => {
    setupStores()
    let n = 0
    mockFetch({ 'POST /api/v1/generate/text2image': () => jsonResponse({ ...created, task_id: `t${++n}` }, 202) })
    const tasks = useTasksStore()
    for (let i = 0; i < 12; i++) await tasks.submit('text2image', { model: 'demo', prompt: `job ${i}` })
    expect(MockEventSource.instances).toHaveLength(1)
    const source = MockEventSource.last()
    for (let i = 1; i <= 12; i++) source.emit('task', makeTask({ task_id: `t${i}`, status: 'completed' }))
    expect(tasks.sessionTasks.map((t) => t.status)).toEqual(Array(12).fill('completed'))
  })

  it('polls the active tasks while the stream is down, and reopens it from the last event', async () => {
    vi.useFakeTimers()
    setupStores()
    const poll = vi.fn(() => jsonResponse({ items: [makeTask({ status: 'completed', outputs: [output(0)] })] }))
    mockFetch({
      'POST /api/v1/generate/text2image': () => jsonResponse(created, 202),
      'GET /api/v1/tasks': poll,
    })
    const tasks = useTasksStore()
    await tasks.submit('text2image', { model: 'demo', prompt: 'a fox' })
    const first = MockEventSource.last()
    first.emit('task', makeTask({ status: 'processing' }), '2026-01-01T00:00:01+00:00')
    first.fail(true)
    await vi.advanceTimersByTimeAsync(0)
    expect(first.closed).toBe(true)
    expect(poll).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(5000)
    expect(MockEventSource.instances).toHaveLength(2)
    expect(MockEventSource.last().url).toBe('/api/v1/events?since=2026-01-01T00%3A00%3A01%2B00%3A00')
    vi.useRealTimers()
    expect(tasks.tasks.t1?.status).toBe('completed')
    expect(tasks.tasks.t1?.outputs).toHaveLength(1)
  })

  it('shows a failed task in plain words with Retry, and retry replaces it in the feed', async () => {
    const pinia = setupStores()
    mockFetch({
      'POST /api/v1/tasks/t1/retry': () => jsonResponse({ ...created, task_id: 't2' }, 202),
    })
    const tasks = useTasksStore()
    tasks.upsert(
      makeTask({
        status: 'failed',
        error: {
          code: 'content_moderation',
          message: 'The prompt did not pass moderation.',
          message_zh: '提示词未通过审核。',
          retryable: false,
        },
      }),
    )
    tasks.sessionIds = ['t1']
    const wrapper = mount(TaskCard, { props: { task: tasks.tasks.t1! }, global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="task-error"]').text()).toBe('The prompt did not pass moderation.')
    await wrapper.get('[data-testid="retry-button"]').trigger('click')
    await flushPromises()
    expect(tasks.sessionIds).toEqual(['t2'])
    expect(MockEventSource.last().url).toBe('/api/v1/events')
  })

  it('never goes back from a finished state to a running one', () => {
    setupStores()
    const tasks = useTasksStore()
    tasks.upsert(makeTask({ status: 'completed', outputs: [output(0)] }))
    tasks.upsert(makeTask({ status: 'processing' }))
    expect(tasks.tasks.t1?.status).toBe('completed')
  })
})
