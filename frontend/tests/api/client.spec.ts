import { describe, expect, it, vi } from 'vitest'
import { ApiError, NETWORK_ERROR, createApiClient } from '@/api/client'
import { describeError } from '@/utils/handleError'
import { jsonResponse } from '../helpers'

function clientWith(response: Response | Error | DOMException, extra: Parameters<typeof createApiClient>[0] = {}) {
  const fetch = vi.fn(async () => {
    if (!(response instanceof Response)) throw response
    return response
  })
  return { fetch, client: createApiClient({ fetch: fetch as unknown as typeof globalThis.fetch, ...extra }) }
}

describe('api client', () => {
  it('turns the error envelope into an ApiError with the server message as is', async () => {
    const { client } = clientWith(
      jsonResponse({ error: { code: 'content_moderation', message: '提示词未通过审核', details: { stage: 'input' } } }, 400),
    )
    const error = await client.task('x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 400, code: 'content_moderation', message: '提示词未通过审核', details: { stage: 'input' } })
  })

  it('maps bodies that are not the envelope by status', async () => {
    const { client } = clientWith(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    await expect(client.models()).rejects.toMatchObject({ status: 502, code: 'upstream_error', message: 'Bad Gateway' })
    const second = clientWith(jsonResponse({ detail: 'Not Found' }, 404))
    await expect(second.client.models()).rejects.toMatchObject({ code: 'not_found', message: 'Not Found' })
  })

  it('reports a network failure as network_error', async () => {
    const { client } = clientWith(new TypeError('Failed to fetch'))
    await expect(client.health()).rejects.toMatchObject({ status: 0, code: NETWORK_ERROR })
  })

  it('lets aborts through untouched', async () => {
    const { client } = clientWith(new DOMException('aborted', 'AbortError'))
    await expect(client.history({ page: 1 })).rejects.toMatchObject({ name: 'AbortError' })
    expect(describeError(new DOMException('aborted', 'AbortError')).silent).toBe(true)
  })

  it('sends Accept-Language, the Idempotency-Key and a JSON body', async () => {
    const { client, fetch } = clientWith(jsonResponse({ task_id: 'a', status: 'pending', message: '', created_at: '' }, 202), {
      getLocale: () => 'en',
    })
    await client.generate('text2image', { prompt: 'p', model: 'demo' }, 'key-1')
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/generate/text2image')
    const headers = init.headers as Record<string, string>
    expect(headers['Accept-Language']).toBe('en')
    expect(headers['Idempotency-Key']).toBe('key-1')
    expect(JSON.parse(init.body as string)).toEqual({ prompt: 'p', model: 'demo' })
  })

  it('builds history queries without empty values', async () => {
    const { client, fetch } = clientWith(jsonResponse({ total: 0, items: [], page: 1, page_size: 60 }))
    await client.history({ page: 2, page_size: 60, q: '', favorite: true })
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/v1/history?page=2&page_size=60&favorite=true')
  })

  it('calls onUnauthorized on a 401, except for the auth endpoints', async () => {
    const onUnauthorized = vi.fn()
    const body = { error: { code: 'unauthorized', message: 'Sign in first.' } }
    const a = clientWith(jsonResponse(body, 401), { onUnauthorized })
    await expect(a.client.tasks()).rejects.toMatchObject({ code: 'unauthorized' })
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    const b = clientWith(jsonResponse(body, 401), { onUnauthorized })
    await expect(b.client.login('wrong')).rejects.toMatchObject({ status: 401 })
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
  })

  it('returns undefined for 204 and the body of an unhealthy /health (503)', async () => {
    const a = clientWith(new Response(null, { status: 204 }))
    await expect(a.client.deleteHistory('x')).resolves.toBeUndefined()
    const unhealthy = { status: 'unhealthy', version: '1', warnings: ['disk'] }
    const b = clientWith(jsonResponse(unhealthy, 503))
    await expect(b.client.health()).resolves.toMatchObject(unhealthy)
  })

  it('gives friendly hints by error code', () => {
    const info = describeError(new ApiError(429, 'upstream_rate_limited', 'Throttled by Volcengine'))
    expect(info.message).toBe('Throttled by Volcengine')
    expect(info.hint).toBeTruthy()
    expect(describeError(new ApiError(500, 'made_up_code', 'x')).hint).toBeNull()
    expect(describeError(new ApiError(401, 'unauthorized', 'x')).silent).toBe(true)
  })

  it('keeps a refused budget as budget_exceeded with the server message in the UI language', async () => {
    const details = { budget: 'daily', cap_cny: 1, spent_cny: 0.8, reserved_cny: 0, left_cny: 0.2, cost_max_cny: 0.8 }
    const message = '本任务最多花费 0.8 元，但每日预算 1 元只剩 0.2 元（已花费 0.8 元，运行中的任务预留 0 元）。请在设置中提高预算或稍后再试。'
    const { client, fetch } = clientWith(
      jsonResponse({ error: { code: 'budget_exceeded', message, details } }, 402),
      { getLocale: () => 'zh-CN' },
    )
    const error = await client.generate('text2image', { prompt: 'p', model: 'x' }, 'k').catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 402, code: 'budget_exceeded', message, details })
    expect((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].headers).toMatchObject({ 'Accept-Language': 'zh-CN' })
    // the server's message already says what to do: no hint repeats it
    expect(describeError(error)).toMatchObject({ message, hint: null, silent: false })
  })

  it('calls 402 budget_exceeded even when the body is not the envelope', async () => {
    const { client } = clientWith(new Response('', { status: 402, statusText: 'Payment Required' }))
    await expect(client.generate('text2image', { prompt: 'p' }, 'k')).rejects.toMatchObject({ code: 'budget_exceeded' })
  })

  it('asks for usage as JSON and links the CSV with the same range', async () => {
    const { client, fetch } = clientWith(
      jsonResponse({ group_by: 'day', from: '2026-11-01', to: '2026-11-30', timezone: 'Asia/Shanghai', rows: [], images: 0, cost_cny: 0 }),
    )
    await client.usage({ from: '2026-11-01', to: '2026-11-30', group_by: 'day' })
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/v1/usage?from=2026-11-01&to=2026-11-30&group_by=day&format=json')
    expect(client.usageCsvUrl({ from: '2026-11-01', to: '2026-11-30', group_by: 'model' })).toBe(
      '/api/v1/usage?from=2026-11-01&to=2026-11-30&group_by=model&format=csv',
    )
  })

  it('saves budgets with PUT, null meaning no cap', async () => {
    const { client, fetch } = clientWith(jsonResponse({ daily_cny: 20, monthly_cny: null }))
    await expect(client.setBudgets({ daily_cny: 20, monthly_cny: null })).resolves.toEqual({ daily_cny: 20, monthly_cny: null })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/usage/budgets')
    expect(init.method).toBe('PUT')
    expect(JSON.parse(init.body as string)).toEqual({ daily_cny: 20, monthly_cny: null })
  })
})
