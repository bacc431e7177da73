import { mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import ParamsTable from '@/components/ParamsTable.vue'
import { applyLocale, i18n } from '@/locales'
import { EMPTY, formatParams, formatParamValue, isDisplayableImage, type ParamFormatContext } from '@/utils/params'
import { plugins, setupStores } from '../helpers'

function ctx(extra: Partial<ParamFormatContext> = {}): ParamFormatContext {
  const g = i18n.global
  return {
    t: (key, params) => (params ? (typeof params.n === 'number' ? g.t(key, params, params.n) : g.t(key, params)) : g.t(key)),
    te: (key) => g.te(key),
    ...extra,
  }
}

const stored = {
  model: 'demo',
  mode: 'image2image',
  prompt: 'remix two references',
  negative_prompt: null,
  size: null,
  width: 512,
  height: 512,
  seed: null,
  guidance_scale: 5.0,
  strength: 0.5,
  num_images: 1,
  group_max_images: null,
  watermark: false,
  optimize_prompt: null,
  style_preset: null,
  references: ['0fa4612061590cc32c8ef10f98db8bd1', '3127fd6cf223004cc5e5c7ba5b82e279'],
}

const byKey = (rows: ReturnType<typeof formatParams>) => Object.fromEntries(rows.map((r) => [r.key, r]))

describe('formatParams', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('hides null/undefined/blank entries and the omitted keys', () => {
    const rows = formatParams({ ...stored, extra: undefined, note: '  ' }, ctx({ omit: ['prompt'] }))
    const keys = rows.map((r) => r.key)
    for (const hidden of ['negative_prompt', 'size', 'seed', 'group_max_images', 'optimize_prompt', 'style_preset', 'extra', 'note', 'prompt']) {
      expect(keys, hidden).not.toContain(hidden)
    }
  })

  it('labels known keys, translates booleans and enums, counts upload-id references', () => {
    const rows = byKey(formatParams(stored, ctx({ modelName: (id) => (id === 'demo' ? '演示（离线）' : undefined) })))
    expect(rows.watermark).toMatchObject({ label: '水印', value: '否' })
    expect(rows.mode).toMatchObject({ label: '模式', value: '图生图' })
    expect(rows.model?.value).toBe('演示（离线）')
    expect(rows.guidance_scale).toMatchObject({ label: '引导强度', value: '5' })
    expect(rows.references).toMatchObject({ label: '参考图', value: '2 张参考图' })
    // upload ids have no URL: no thumbnails
    expect(rows.references?.thumbs).toBeUndefined()
    // width + height → one size row
    expect(rows['width×height']).toMatchObject({ label: '尺寸', value: '512 × 512' })
    expect(rows.width).toBeUndefined()
    expect(rows.height).toBeUndefined()
  })

  it('English: Yes/No, plural reference count, unknown keys keep their name', () => {
    applyLocale('en')
    const rows = byKey(formatParams({ watermark: true, references: ['a'], images: ['a', 'b', 'c'], custom_flag: 3 }, ctx()))
    expect(rows.watermark?.value).toBe('Yes')
    expect(rows.references?.value).toBe('1 reference image')
    expect(rows.images?.value).toBe('3 reference images')
    expect(rows.custom_flag).toMatchObject({ label: 'custom_flag', value: '3' })
  })

  it('empty lists read "—"; displayable references become thumbnails', () => {
    const rows = byKey(formatParams({ references: [], tags: [], images: ['/images/a.png', 'abc123', 'data:image/png;base64,xx'] }, ctx()))
    expect(rows.references?.value).toBe(EMPTY)
    expect(rows.tags?.value).toBe(EMPTY)
    expect(rows.images?.value).toBe('3 张参考图')
    expect(rows.images?.thumbs).toEqual(['/images/a.png', 'data:image/png;base64,xx'])
  })

  it('keeps an explicit size and names the pixel pair "dimensions" then', () => {
    const rows = byKey(formatParams({ size: '2048x2048', width: 2048, height: 2048, optimize_prompt: 'standard' }, ctx()))
    expect(rows.size?.value).toBe('2048 × 2048')
    expect(rows['width×height']).toMatchObject({ label: '尺寸', value: '2048 × 2048' })
    expect(rows.optimize_prompt?.value).toBe('标准')
  })

  it('formats loose values', () => {
    const c = ctx()
    expect(formatParamValue(null, c)).toBe(EMPTY)
    expect(formatParamValue([], c)).toBe(EMPTY)
    expect(formatParamValue([1, null, 2], c)).toBe('1, 2')
    expect(formatParamValue({}, c)).toBe(EMPTY)
    expect(formatParamValue({ a: 1, b: null }, c)).toBe('{"a":1}')
    expect(formatParamValue(0.30000000000000004, c)).toBe('0.3')
    expect(formatParamValue(true, c)).toBe('是')
    expect(isDisplayableImage('//evil.example/x.png')).toBe(false)
    expect(isDisplayableImage('https://x/y.png')).toBe(true)
  })
})

describe('ParamsTable', () => {
  beforeEach(() => applyLocale('en'))

  it('renders labelled rows with the catalogue model name, and no raw [] or ✗', () => {
    const pinia = setupStores()
    const wrapper = mount(ParamsTable, {
      props: { params: stored, omit: ['prompt', 'negative_prompt'] },
      global: { plugins: plugins(pinia) },
    })
    const text = wrapper.text()
    expect(text).not.toContain('[]')
    expect(text).not.toContain('✗')
    expect(text).not.toContain('remix two references')
    const dd = (key: string) => wrapper.get(`dd[data-param="${key}"]`).text()
    expect(dd('watermark')).toBe('No')
    expect(dd('references')).toBe('2 reference images')
    expect(dd('mode')).toBe('Image to image')
    expect(dd('model')).not.toBe('demo')
    expect(wrapper.findAll('dt').map((d) => d.text())).toContain('Guidance scale')
  })
})

describe('ParamsTable: an inspected file\'s summary reads as labels, not raw keys', () => {
  it('names the app, counts images from 1, localizes dates and money (zh)', () => {
    applyLocale('zh-CN')
    const pinia = setupStores()
    const wrapper = mount(ParamsTable, {
      props: {
        params: {
          app: 'volcengine-image-studio',
          version: 1,
          index: 0,
          task_id: 'abc',
          created_at: '2026-01-02T03:04:05+00:00',
          unit_price_cny: 0.2,
        },
      },
      global: { plugins: plugins(pinia) },
    })
    const labels = wrapper.findAll('dt').map((d) => d.text())
    expect(labels).toEqual(['生成程序', '版本', '图片序号', '任务 ID', '创建时间', '单价'])
    const dd = (key: string) => wrapper.get(`dd[data-param="${key}"]`).text()
    expect(dd('app')).toBe(i18n.global.t('app.name'))
    expect(dd('index')).toBe('1')
    expect(dd('created_at')).not.toContain('T03:04')
    expect(dd('created_at')).toMatch(/2026/)
    expect(dd('unit_price_cny')).toBe('¥0.20')
  })
})
