import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import GenerateForm from '@/components/GenerateForm.vue'
import { applyLocale } from '@/locales'
import { useCatalogStore } from '@/stores/catalog'
import { CUSTOM_SIZE, useGenerateFormStore } from '@/stores/generateForm'
import { usePricesStore } from '@/stores/prices'
import { prices } from '../fixtures/prices'
import { plugins, setupStores } from '../helpers'

function mountForm(modelId: string, withPrices = false) {
  const pinia = setupStores()
  if (withPrices) usePricesStore().list = prices
  const form = useGenerateFormStore()
  form.selectModel(modelId)
  const wrapper = mount(GenerateForm, { global: { plugins: plugins(pinia) } })
  return { wrapper, form }
}

const has = (wrapper: ReturnType<typeof mountForm>['wrapper'], id: string) => wrapper.find(`[data-testid="${id}"]`).exists()

describe('GenerateForm adapts to the model', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('shows everything the demo model takes', () => {
    const { wrapper } = mountForm('demo')
    for (const id of ['prompt-input', 'negative-prompt-input', 'references-field', 'seed-field', 'guidance-field', 'group-mode']) {
      expect(has(wrapper, id), id).toBe(true)
    }
    expect(has(wrapper, 'watermark-field')).toBe(false)
    expect(has(wrapper, 'optimize-field')).toBe(false)
    expect(wrapper.find('textarea[data-testid="prompt-input"]').exists()).toBe(true)
  })

  it('Seedream 4.0: references, watermark, optimisation, no seed/guidance/negative prompt', () => {
    const { wrapper } = mountForm('doubao-seedream-4-0-250828')
    expect(has(wrapper, 'references-field')).toBe(true)
    expect(has(wrapper, 'watermark-field')).toBe(true)
    expect(has(wrapper, 'optimize-field')).toBe(true)
    expect(has(wrapper, 'seed-field')).toBe(false)
    expect(has(wrapper, 'guidance-field')).toBe(false)
    expect(has(wrapper, 'negative-prompt-input')).toBe(false)
    expect(wrapper.findAll('[data-size]').map((b) => b.attributes('data-size'))).toEqual(
      expect.arrayContaining(['1K', '2K', '4K', '2560x1440', CUSTOM_SIZE]),
    )
  })

  it('Seedream 3.0 text-to-image: seed and guidance, no references or group', () => {
    const { wrapper } = mountForm('doubao-seedream-3-0-t2i-250415')
    expect(has(wrapper, 'seed-field')).toBe(true)
    expect(has(wrapper, 'guidance-field')).toBe(true)
    expect(has(wrapper, 'references-field')).toBe(false)
    expect(has(wrapper, 'group-mode')).toBe(false)
  })

  it('SeedEdit: only the adaptive size, references required', () => {
    const { wrapper } = mountForm('doubao-seededit-3-0-i2i-250628')
    expect(wrapper.findAll('[data-size]').map((b) => b.attributes('data-size'))).toEqual(['adaptive'])
    expect(wrapper.get('[data-testid="references-field"]').text()).toContain('至少 1 张')
  })

  it('updates the form when the model picker changes', async () => {
    const { wrapper, form } = mountForm('demo')
    await wrapper.get('select[data-testid="model-select"]').setValue('doubao-seedream-4-0-250828')
    expect(form.modelId).toBe('doubao-seedream-4-0-250828')
    expect(has(wrapper, 'negative-prompt-input')).toBe(false)
    expect(has(wrapper, 'watermark-field')).toBe(true)
  })

  it('checks a custom size live and explains the rule under the field', async () => {
    const { wrapper } = mountForm('doubao-seedream-3-0-t2i-250415')
    await wrapper.get(`[data-size="${CUSTOM_SIZE}"]`).trigger('click')
    await wrapper.get('[data-testid="size-width"]').setValue('3000')
    expect(wrapper.get('[data-testid="size-error"]').text()).toBe('每边最多 2048 像素。')
    await wrapper.get('[data-testid="size-width"]').setValue('1024')
    await wrapper.get('[data-testid="size-height"]').setValue('100')
    expect(wrapper.get('[data-testid="size-error"]').text()).toBe('每边至少 512 像素。')
    await wrapper.get('[data-testid="size-height"]').setValue('1024')
    expect(wrapper.find('[data-testid="size-error"]').exists()).toBe(false)
  })

  it('explains a pixel-count problem in English too', async () => {
    applyLocale('en')
    const { wrapper } = mountForm('doubao-seedream-4-0-250828')
    await wrapper.get(`[data-size="${CUSTOM_SIZE}"]`).trigger('click')
    await wrapper.get('[data-testid="size-width"]').setValue('512')
    await wrapper.get('[data-testid="size-height"]').setValue('512')
    await flushPromises()
    expect(wrapper.get('[data-testid="size-error"]').text()).toBe('Too few pixels (0.26 MP); at least 0.92 MP are needed.')
  })

  it('Seedream 5.0 Lite: a web-search switch and an output format; 4.0 has neither', async () => {
    const { wrapper, form } = mountForm('doubao-seedream-5-0-260128')
    expect(wrapper.get('[data-testid="web-search-field"]').text()).toContain('联网搜索')
    expect(has(wrapper, 'output-format-png')).toBe(true)
    expect(wrapper.findAll('[data-size]').map((b) => b.attributes('data-size'))).toEqual(
      expect.arrayContaining(['2K', '3K', '4096x2304']),
    )
    await wrapper.get('[data-testid="web-search"]').trigger('click')
    expect(form.webSearch).toBe(true)
    form.selectModel('doubao-seedream-4-0-250828')
    await nextTick()
    expect(has(wrapper, 'web-search-field')).toBe(false)
    expect(has(wrapper, 'output-format-field')).toBe(false)
    expect(form.webSearch).toBe(false)
  })

  it('Seedream 5.0 Pro: PNG output but no web search and no group', () => {
    const { wrapper } = mountForm('doubao-seedream-5-0-pro-260628')
    expect(has(wrapper, 'output-format-png')).toBe(true)
    expect(has(wrapper, 'web-search-field')).toBe(false)
    expect(has(wrapper, 'group-mode')).toBe(false)
  })

  it('Seedream 5.0 Pro and the demo: a layers switch, off while a group is chosen; 5.0 Lite has none', async () => {
    const { wrapper, form } = mountForm('doubao-seedream-5-0-pro-260628')
    expect(wrapper.get('[data-testid="layers-field"]').text()).toContain('分层')
    await wrapper.get('[data-testid="layers-switch"]').trigger('click')
    expect(form.layers).toBe(true)
    form.selectModel('demo')
    await nextTick()
    form.outputMode = 'group'
    await nextTick()
    expect(wrapper.get('[data-testid="layers-switch"]').classes()).toContain('is-disabled')
    expect(wrapper.get('[data-testid="layers-field"]').text()).toContain('不能与组图同时使用')
    form.selectModel('doubao-seedream-5-0-260128')
    await nextTick()
    expect(has(wrapper, 'layers-field')).toBe(false)
  })

  it('a retired model carries a "即将下线" badge and still submits', async () => {
    const { wrapper } = mountForm('doubao-seedream-3-0-t2i-250415')
    expect(wrapper.get('[data-testid="model-retiring"]').text()).toContain('即将下线')
    const option = wrapper.get('option[value="doubao-seedream-3-0-t2i-250415"]')
    expect(option.text()).toBe('豆包 Seedream 3.0 文生图（即将下线）')
    expect(option.attributes('disabled')).toBeUndefined()
    applyLocale('en')
    await nextTick()
    expect(wrapper.get('option[value="doubao-seedream-3-0-t2i-250415"]').text()).toBe('Seedream 3.0 (text-to-image) (retiring)')
    expect(has(wrapper, 'model-retiring')).toBe(true)
    const { wrapper: active } = mountForm('doubao-seedream-4-0-250828')
    expect(active.find('[data-testid="model-retiring"]').exists()).toBe(false)
  })

  it('emits submit from the generate button', async () => {
    const { wrapper } = mountForm('demo')
    await wrapper.get('form').trigger('submit')
    expect(wrapper.emitted('submit')).toHaveLength(1)
    expect(wrapper.find('[data-testid="generate-button"]').exists()).toBe(true)
  })
})

describe('the Generate button shows what it will cost', () => {
  beforeEach(() => applyLocale('zh-CN'))

  const price = (wrapper: ReturnType<typeof mountForm>['wrapper']) => wrapper.find('[data-testid="generate-price"]')

  it('follows the number of images and the model, with no request', async () => {
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)
    const { wrapper, form } = mountForm('doubao-seedream-4-0-250828', true)
    expect(price(wrapper).text()).toBe('· ¥0.20')
    form.numImages = 3
    await nextTick()
    expect(price(wrapper).text()).toBe('· ¥0.60')
    expect(wrapper.get('[data-testid="generate-button"]').attributes('title')).toBe('3 张 × ¥0.20')
    form.selectModel('doubao-seedream-4-5-251128')
    await nextTick()
    expect(price(wrapper).text()).toBe('· ¥0.75')
    expect(fetch).not.toHaveBeenCalled()
    vi.unstubAllGlobals()
  })

  it('takes a group at its maximum: "最多" / "up to"', async () => {
    const { wrapper, form } = mountForm('doubao-seedream-4-0-250828', true)
    form.outputMode = 'group'
    form.groupMax = 4
    await nextTick()
    expect(price(wrapper).text()).toBe('· 最多 ¥0.80')
    applyLocale('en')
    await nextTick()
    expect(price(wrapper).text()).toBe('· up to ¥0.80')
  })

  it('the demo model is free', async () => {
    const { wrapper } = mountForm('demo', true)
    expect(price(wrapper).text()).toBe('· 免费')
    expect(price(wrapper).attributes('data-free')).toBe('true')
    applyLocale('en')
    await nextTick()
    expect(price(wrapper).text()).toBe('· free')
    expect(wrapper.find('[data-testid="price-hint"]').exists()).toBe(false)
  })

  it('marks an unconfirmed price and says why', () => {
    const { wrapper } = mountForm('jimeng_t2i_v30', true)
    expect(price(wrapper).text()).toBe('· ¥0.20*')
    expect(price(wrapper).attributes('data-confirmed')).toBe('false')
    expect(wrapper.get('[data-testid="price-hint"]').text()).toBe('* 单价为估算，未经火山引擎价目表确认')
  })

  it('says just "生成" until the prices are known', () => {
    const { wrapper } = mountForm('doubao-seedream-4-0-250828')
    expect(price(wrapper).exists()).toBe(false)
    expect(wrapper.get('[data-testid="generate-button"]').text()).toBe('生成')
  })
})

describe('GenerateForm before the catalogue has answered', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('holds the button until a model is chosen (a click then could only say "choose a model")', async () => {
    const pinia = setupStores()
    const catalog = useCatalogStore()
    const models = catalog.models
    catalog.models = []
    catalog.loading = true
    const form = useGenerateFormStore()
    const wrapper = mount(GenerateForm, { global: { plugins: plugins(pinia) } })
    const button = () => wrapper.get('[data-testid="generate-button"]')
    expect(button().attributes('disabled')).toBeDefined()

    catalog.models = models
    catalog.loading = false
    form.selectModel('demo')
    await nextTick()
    expect(button().attributes('disabled')).toBeUndefined()
  })
})
