import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import EditPage from '@/pages/EditPage.vue'
import { applyLocale } from '@/locales'
import { useCatalogStore } from '@/stores/catalog'
import { readGreyPng } from '../pngRead'
import { catalog, jsonResponse, makeTask, plugins, setupStores, testRouter } from '../helpers'
import { MockEventSource, mockFetch } from '../mocks'

const source = makeTask({
  task_id: 'src1',
  status: 'completed',
  outputs: [{ id: 'src1i00000', index: 0, url: '/images/src.png', thumbnail_url: null, width: 800, height: 400, seed: 1, bytes: 10, content_type: 'image/png' }],
})

function routes(sent: { edit?: unknown; uploads: Blob[]; key?: string | null }) {
  return mockFetch({
    'GET /api/v1/tasks/src1': () => jsonResponse(source),
    'GET /api/v1/tasks/new1': () => jsonResponse(makeTask({ task_id: 'new1', type: 'text2image', status: 'processing' })),
    'GET /api/v1/models': () => jsonResponse(catalog),
    'GET /api/v1/usage/prices': () => jsonResponse({ models: {}, default: { unit: 'image', cny: 0.2, confirmed: true }, currency: 'CNY', checked_on: '2026-11-30', source: 'x' }),
    'POST /api/v1/uploads': (_url, init) => {
      sent.uploads.push((init.body as FormData).get('file') as Blob)
      return jsonResponse({ id: `up${sent.uploads.length}`, width: 800, height: 400, bytes: 1, content_type: 'image/png' })
    },
    'POST /api/v1/edit/inpaint': (_url, init) => {
      sent.edit = JSON.parse(String(init.body))
      sent.key = new Headers(init.headers).get('Idempotency-Key')
      return jsonResponse({ task_id: 'new1', status: 'pending', message: '', created_at: '2026-01-01T00:00:00Z' }, 202)
    },
    'POST /api/v1/edit/upscale': (_url, init) => {
      sent.edit = JSON.parse(String(init.body))
      return jsonResponse({ task_id: 'new1', status: 'pending', message: '', created_at: '2026-01-01T00:00:00Z' }, 202)
    },
  })
}

async function mountAt(path: string) {
  const router = testRouter()
  await router.push(path)
  const wrapper = mount(EditPage, { global: { plugins: plugins(setupStores(), router) }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

describe('EditPage', () => {
  beforeEach(() => {
    applyLocale('en')
    MockEventSource.reset()
    vi.stubGlobal('EventSource', MockEventSource)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('inpaint: refuses without a mask or prompt, then sends the mask as an upload at the source size', async () => {
    const sent: { edit?: unknown; uploads: Blob[]; key?: string | null } = { uploads: [] }
    routes(sent)
    const { wrapper } = await mountAt('/edit/src1/0?op=inpaint')
    expect(wrapper.get('[data-testid="edit-op-inpaint"]').attributes('aria-pressed')).toBe('true')

    await wrapper.get('[data-testid="edit-submit"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-testid="edit-error"]').text()).toBe('Paint the area to edit first.')
    expect(sent.edit).toBeUndefined()

    const canvas = wrapper.get('[data-testid="mask-canvas"]').element as HTMLCanvasElement
    expect([canvas.width, canvas.height]).toEqual([800, 400])
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, right: 400, bottom: 200, width: 400, height: 200, x: 0, y: 0, toJSON: () => ({}) })
    canvas.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true, pointerId: 1, button: 0, pointerType: 'mouse', clientX: 100, clientY: 100 }))
    canvas.dispatchEvent(new PointerEvent('pointerup', { bubbles: true, pointerId: 1, button: 0, pointerType: 'mouse', clientX: 100, clientY: 100 }))
    await flushPromises()
    await wrapper.get('[data-testid="edit-submit"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-testid="edit-error"]').text()).toBe('Describe what goes in the painted area.')

    await wrapper.get('textarea[data-testid="edit-prompt"]').setValue('  a red balloon ')
    await wrapper.get('[data-testid="edit-submit"]').trigger('click')
    await flushPromises()
    await new Promise((r) => setTimeout(r, 50))
    await flushPromises()
    expect(sent.edit).toEqual({ source: { image_id: 'src1i00000' }, mask: { upload_id: 'up1' }, prompt: 'a red balloon' })
    expect(sent.key).toBeTruthy()
    const png = await readGreyPng(sent.uploads[0]!)
    expect(png).toMatchObject({ width: 800, height: 400, colourType: 0 })
    expect(png.pixels[200 * 800 + 200]).toBe(255)
    expect(png.pixels[0]).toBe(0)
    expect(wrapper.find('[data-testid="edit-result"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('upscale: shows the output size of each resolution and sends the one chosen', async () => {
    const sent: { edit?: unknown; uploads: Blob[] } = { uploads: [] }
    routes(sent)
    const { wrapper } = await mountAt('/edit/src1/0?op=upscale')
    expect(wrapper.get('[data-testid="upscale-size"]').text()).toContain('4096 × 2048')
    await wrapper.get('[data-testid="upscale-8k"]').setValue(true)
    expect(wrapper.get('[data-testid="upscale-size"]').text()).toContain('8192 × 4096')
    await wrapper.get('[data-testid="edit-submit"]').trigger('click')
    await flushPromises()
    expect(sent.edit).toEqual({ source: { image_id: 'src1i00000' }, resolution: '8k' })
    expect(sent.uploads).toEqual([])
    wrapper.unmount()
  })

  it("follows the model's rules: the price of the operation's req_key, no prompt for erase, its expansion limit", async () => {
    const sent: { edit?: unknown; uploads: Blob[] } = { uploads: [] }
    const rule = (operation: 'erase' | 'outpaint', req_key: string, extra: object = {}) => ({
      operation,
      req_key,
      prompt: operation === 'erase' ? ('none' as const) : ('optional' as const),
      mask: operation === 'erase',
      formats: ['png'],
      max_aspect: null,
      max_bytes: null,
      max_expand: null,
      max_side: 4096,
      min_aspect: null,
      min_side: 1,
      prompt_max_length: 800,
      provenance: { checked_on: '2026-11-30', source: 'builtin' },
      resolutions: [],
      ...extra,
    })
    const editor = {
      ...catalog.models[0]!,
      id: 'painter',
      available: true,
      unavailable_reason: null,
      edit_operations: [rule('erase', 'painter_erase'), rule('outpaint', 'painter_outpaint', { max_expand: 3 })],
    }
    mockFetch({
      'GET /api/v1/tasks/src1': () => jsonResponse(source),
      'GET /api/v1/models': () => jsonResponse({ ...catalog, models: [...catalog.models, editor] }),
      'GET /api/v1/usage/prices': () =>
        jsonResponse({
          checked: '2026-11-30',
          currency: 'CNY',
          default: { unit: 'image', cny: 0.2, confirmed: true, source: 'x' },
          models: { painter_erase: { unit: 'call', cny: 0.35, confirmed: true, source: 'x' } },
        }),
      'POST /api/v1/edit/outpaint': (_url, init) => {
        sent.edit = JSON.parse(String(init.body))
        return jsonResponse({ task_id: 'new1', status: 'pending', message: '', created_at: '2026-01-01T00:00:00Z' }, 202)
      },
      'GET /api/v1/tasks/new1': () => jsonResponse(makeTask({ task_id: 'new1', status: 'processing' })),
    })
    const pinia = setupStores()
    const store = useCatalogStore()
    store.models = [...store.models, editor]
    const router = testRouter()
    await router.push('/edit/src1/0?op=erase')
    const wrapper = mount(EditPage, { global: { plugins: plugins(pinia, router) }, attachTo: document.body })
    await flushPromises()
    expect(wrapper.find('textarea[data-testid=edit-prompt]').exists()).toBe(false)
    expect(wrapper.get('[data-testid="edit-price"]').text()).toContain('0.35')

    await wrapper.get('[data-testid="edit-op-outpaint"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-testid="outpaint-left"]').attributes('max')).toBe('300')
    await wrapper.get('[data-testid="outpaint-left"]').setValue('250')
    expect(wrapper.get('[data-testid="outpaint-size"]').text()).toContain('2800 × 400')
    // no row for this req_key: the list's default price
    expect(wrapper.get('[data-testid="edit-price"]').text()).toContain('0.20')
    await wrapper.get('[data-testid="edit-submit"]').trigger('click')
    await flushPromises()
    expect(sent.edit).toEqual({ source: { image_id: 'src1i00000' }, model: 'painter', expand: { top: 0, bottom: 0, left: 2.5, right: 0 } })
    wrapper.unmount()
  })

  it('says so when the image is gone', async () => {
    mockFetch({
      'GET /api/v1/tasks/gone': () => jsonResponse({ error: { code: 'not_found', message: 'Task not found' } }, 404),
      'GET /api/v1/models': () => jsonResponse(catalog),
      'GET /api/v1/usage/prices': () => jsonResponse({ models: {}, default: { unit: 'image', cny: 0.2, confirmed: true } }),
    })
    const { wrapper } = await mountAt('/edit/gone/0?op=erase')
    expect(wrapper.find('[data-testid="edit-not-found"]').exists()).toBe(true)
    wrapper.unmount()
  })
})
