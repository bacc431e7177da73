import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { defineComponent, ref } from 'vue'
import OutpaintEditor from '@/components/OutpaintEditor.vue'
import { i18n } from '@/locales'
import { noExpand, type Expand } from '@/utils/editGeometry'

function mountEditor() {
  const expand = ref<Expand>(noExpand())
  const Parent = defineComponent({
    components: { OutpaintEditor },
    setup: () => ({ expand }),
    template: `<OutpaintEditor v-model="expand" src="/a.png" :width="1000" :height="500" />`,
  })
  return { wrapper: mount(Parent, { global: { plugins: [i18n] } }), expand }
}

describe('OutpaintEditor', () => {
  it('per-edge percentages set the expansion and the new canvas size', async () => {
    const { wrapper, expand } = mountEditor()
    await wrapper.get('[data-testid="outpaint-top"]').setValue('50')
    await wrapper.get('[data-testid="outpaint-right-range"]').setValue('20')
    expect(expand.value).toEqual({ top: 0.5, bottom: 0, left: 0, right: 0.2 })
    expect(wrapper.get('[data-testid="outpaint-size"]').text()).toContain('1000 × 500')
    expect(wrapper.get('[data-testid="outpaint-size"]').text()).toContain('1200 × 750')
    // the original sits at the bottom-left of the new canvas
    const style = wrapper.get('[data-testid="outpaint-preview"] img').attributes('style')
    expect(style).toContain('left: 0%')
    expect(style).toContain(`top: ${(250 / 750) * 100}%`)
    expect(style).toContain(`width: ${(1000 / 1200) * 100}%`)
  })

  it('clamps a typed value to the allowed range', async () => {
    const { wrapper, expand } = mountEditor()
    await wrapper.get('[data-testid="outpaint-left"]').setValue('250')
    expect(expand.value.left).toBe(1)
    await wrapper.get('[data-testid="outpaint-left"]').setValue('-5')
    expect(expand.value.left).toBe(0)
  })

  it('a target aspect grows the short side evenly', async () => {
    const { wrapper, expand } = mountEditor()
    await wrapper.get('[data-testid="outpaint-aspect-1x1"]').trigger('click')
    expect(expand.value.top).toBe(0.5)
    expect(expand.value.bottom).toBe(0.5)
    expect(expand.value.left).toBe(0)
    expect(wrapper.get('[data-testid="outpaint-size"]').text()).toContain('1000 × 1000')
    expect(wrapper.get('[data-testid="outpaint-aspect-1x1"]').attributes('aria-pressed')).toBe('true')
  })
})
