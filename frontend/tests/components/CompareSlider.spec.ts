import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import CompareSlider from '@/components/CompareSlider.vue'
import { i18n } from '@/locales'

function mountSlider() {
  return mount(CompareSlider, {
    props: { before: '/a.png', after: '/b.png', aspect: 2, modelValue: 50, 'onUpdate:modelValue': undefined },
    global: { plugins: [i18n] },
  })
}

describe('CompareSlider', () => {
  it('is a labelled slider the arrow keys move', async () => {
    const wrapper = mountSlider()
    const divider = wrapper.get('[data-testid="compare-divider"]')
    expect(divider.attributes('role')).toBe('slider')
    expect(divider.attributes('tabindex')).toBe('0')
    expect(divider.attributes('aria-valuenow')).toBe('50')

    await divider.trigger('keydown', { key: 'ArrowRight' })
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([51])
    await wrapper.setProps({ modelValue: 51 })
    await divider.trigger('keydown', { key: 'ArrowLeft', shiftKey: true })
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([41])
    await divider.trigger('keydown', { key: 'End' })
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([100])
    await divider.trigger('keydown', { key: 'Home' })
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([0])
  })

  it('never leaves 0..100, and clips the after picture at the divider', async () => {
    const wrapper = mountSlider()
    await wrapper.setProps({ modelValue: 100 })
    const divider = wrapper.get('[data-testid="compare-divider"]')
    await divider.trigger('keydown', { key: 'PageUp' })
    // already at the end: nothing moves
    expect(wrapper.emitted('update:modelValue')).toBeUndefined()
    expect(divider.attributes('aria-valuenow')).toBe('100')
    await wrapper.setProps({ modelValue: 30 })
    expect(wrapper.get('.compare__after').attributes('style')).toContain('inset(0 0 0 30%)')
    expect(divider.attributes('style')).toContain('left: 30%')
    expect(divider.attributes('aria-valuetext')).toContain('30')
  })

  it('follows a pointer dragged across the frame', async () => {
    const wrapper = mountSlider()
    const frame = wrapper.get('[data-testid="compare"]')
    ;(frame.element as HTMLElement).getBoundingClientRect = () =>
      ({ left: 100, top: 0, width: 400, height: 200, right: 500, bottom: 200, x: 100, y: 0, toJSON: () => ({}) }) as DOMRect
    frame.element.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true, button: 0, pointerId: 1, clientX: 200, clientY: 10 }))
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([25])
    frame.element.dispatchEvent(new PointerEvent('pointermove', { bubbles: true, pointerId: 1, clientX: 900, clientY: 10 }))
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([100])
    frame.element.dispatchEvent(new PointerEvent('pointerup', { bubbles: true, pointerId: 1, clientX: 900, clientY: 10 }))
    const count = wrapper.emitted('update:modelValue')?.length
    frame.element.dispatchEvent(new PointerEvent('pointermove', { bubbles: true, pointerId: 1, clientX: 300, clientY: 10 }))
    expect(wrapper.emitted('update:modelValue')?.length).toBe(count)
  })
})
