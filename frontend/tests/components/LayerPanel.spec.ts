import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError } from '@/api/client'
import type { LayeredSet } from '@/api/types'
import LayerPanel from '@/components/LayerPanel.vue'
import { applyLocale } from '@/locales'
import { plugins, setupStores } from '../helpers'

function layered(overrides: Partial<LayeredSet> = {}): LayeredSet {
  return {
    image_id: 'img1',
    task_id: 't1',
    width: 400,
    height: 200,
    base_url: '/images/2026/11/30/img1.png',
    base_thumbnail_url: '/images/2026/11/30/img1.thumb.webp',
    zip_url: '/api/v1/images/img1/layers.zip',
    is_demo: false,
    layers: [
      {
        id: 'img1l001', position: 1, z_index: 1, url: '/images/2026/11/30/img1l001.png', thumbnail_url: null,
        width: 200, height: 100, box: [100, 50, 300, 150], box_normalized: [250, 250, 750, 750], full_canvas: false,
        name: '山', description: '远处的山峦', content_type: 'image/png', bytes: 10, missing: false,
      },
      {
        id: 'img1l002', position: 2, z_index: 2, url: '/images/2026/11/30/img1l002.png', thumbnail_url: null,
        width: 400, height: 200, box: [0, 0, 40, 20], box_normalized: [0, 0, 100, 100], full_canvas: true,
        name: null, description: null, content_type: 'image/png', bytes: 10, missing: false,
      },
    ],
    ...overrides,
  }
}

function render(imageId = 'img1') {
  return mount(LayerPanel, { props: { imageId }, global: { plugins: plugins(setupStores()) } })
}

const visible = (el: { attributes: (name: string) => string | undefined }) => !(el.attributes('style') ?? '').includes('display: none')

describe('LayerPanel', () => {
  beforeEach(() => applyLocale('zh-CN'))
  afterEach(() => vi.restoreAllMocks())

  it('stacks the base and each layer, placed by its box unless it covers the canvas', async () => {
    const spy = vi.spyOn(api, 'layers').mockResolvedValue(layered())
    const wrapper = render()
    await flushPromises()
    expect(spy).toHaveBeenCalledWith('img1')
    const stage = wrapper.get('[data-testid="layer-stage"]')
    expect(stage.attributes('style')).toContain('aspect-ratio: 400 / 200')
    const stacked = wrapper.findAll('[data-testid="layer-stage-layer"]')
    const boxed = stacked[0]!
    const full = stacked[1]!
    expect(boxed.attributes('style')).toContain('left: 25.0000%')
    expect(boxed.attributes('style')).toContain('top: 25.0000%')
    expect(boxed.attributes('style')).toContain('width: 50.0000%')
    expect(boxed.attributes('style')).toContain('height: 50.0000%')
    expect(boxed.attributes('style')).toContain('z-index: 1')
    // Canvas-sized: drawn whole, whatever its box says.
    expect(full.attributes('style')).toContain('width: 100%')
    expect(full.attributes('style')).toContain('z-index: 2')
    // The list: top first, then the base; names, descriptions, a fallback name.
    const rows = wrapper.findAll('[data-testid="layer-row"]')
    expect(rows.map((r) => r.attributes('data-layer-id'))).toEqual(['img1l002', 'img1l001', 'base'])
    expect(rows[0]!.text()).toContain('图层 2')
    expect(rows[1]!.text()).toContain('山')
    expect(rows[1]!.text()).toContain('远处的山峦')
    expect(rows[1]!.text()).toContain('100, 50, 300, 150')
    expect(wrapper.get('[data-testid="layer-zip"]').attributes('href')).toBe('/api/v1/images/img1/layers.zip')
    expect(wrapper.text()).toContain('图层（2）')
    expect(wrapper.find('.demo-badge').exists()).toBe(false)
  })

  it('hides and shows a layer live, and all of them at once', async () => {
    vi.spyOn(api, 'layers').mockResolvedValue(layered({ is_demo: true }))
    const wrapper = render()
    await flushPromises()
    expect(wrapper.find('.demo-badge').exists()).toBe(true)
    const layerImg = () => wrapper.get('[data-layer-id="img1l001"][data-testid="layer-stage-layer"]')
    expect(visible(layerImg())).toBe(true)
    const checkbox = wrapper.get('[data-testid="layer-row"][data-layer-id="img1l001"] input')
    await checkbox.setValue(false)
    expect(visible(layerImg())).toBe(false)
    expect(visible(wrapper.get('[data-layer-id="img1l002"][data-testid="layer-stage-layer"]'))).toBe(true)
    await checkbox.setValue(true)
    expect(visible(layerImg())).toBe(true)

    await wrapper.get('[data-testid="layer-toggle-all"]').trigger('click')
    expect(wrapper.findAll('[data-testid="layer-stage-layer"]').some(visible)).toBe(false)
    expect(visible(wrapper.get('[data-testid="layer-stage-base"]'))).toBe(false)
    expect(wrapper.get('[data-testid="layer-toggle-all"]').text()).toBe('全部显示')
    await wrapper.get('[data-testid="layer-toggle-all"]').trigger('click')
    expect(wrapper.findAll('[data-testid="layer-stage-layer"]').every(visible)).toBe(true)
  })

  it('says when an image has no layers, in English too', async () => {
    applyLocale('en')
    vi.spyOn(api, 'layers').mockResolvedValue(layered({ layers: [] }))
    const wrapper = render()
    await flushPromises()
    expect(wrapper.get('[data-testid="layer-none"]').text()).toBe('This image has no layers (the model returned none).')
    expect(wrapper.find('[data-testid="layer-zip"]').exists()).toBe(false)
  })

  it('shows the server message when the set cannot be loaded', async () => {
    vi.spyOn(api, 'layers').mockRejectedValue(new ApiError(404, 'not_found', '图片 img9 不存在。'))
    const wrapper = render('img9')
    await flushPromises()
    expect(wrapper.get('[data-testid="layer-error"]').text()).toContain('图片 img9 不存在。')
  })

  it('loads the new set when the image changes, forgetting what was hidden', async () => {
    const spy = vi.spyOn(api, 'layers').mockResolvedValue(layered())
    const wrapper = render()
    await flushPromises()
    await wrapper.get('[data-testid="layer-row"][data-layer-id="img1l001"] input').setValue(false)
    await wrapper.setProps({ imageId: 'img2' })
    await flushPromises()
    expect(spy).toHaveBeenLastCalledWith('img2')
    expect(wrapper.findAll('[data-testid="layer-stage-layer"]').every(visible)).toBe(true)
  })
})
