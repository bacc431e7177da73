import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import StarRating from '@/components/StarRating.vue'
import { i18n } from '@/locales'

describe('StarRating', () => {
  it('is a radio group of five named stars; choosing the current one clears it', async () => {
    const wrapper = mount(StarRating, { props: { modelValue: 3 }, global: { plugins: [i18n] } })
    const stars = wrapper.findAll('[role="radio"]')
    expect(stars).toHaveLength(5)
    expect(stars.map((s) => s.attributes('aria-checked'))).toEqual(['false', 'false', 'true', 'false', 'false'])
    expect(stars.filter((s) => s.classes('is-on'))).toHaveLength(3)
    expect(stars[2]?.attributes('tabindex')).toBe('0')
    await stars[4]?.trigger('click')
    await stars[2]?.trigger('click')
    expect(wrapper.emitted('update:modelValue')).toEqual([[5], [null]])
  })

  it('moves with the arrow keys, down to no rating', async () => {
    const wrapper = mount(StarRating, { props: { modelValue: 1 }, global: { plugins: [i18n] } })
    await wrapper.get('[role="radiogroup"]').trigger('keydown', { key: 'ArrowRight' })
    await wrapper.get('[role="radiogroup"]').trigger('keydown', { key: 'ArrowLeft' })
    await wrapper.setProps({ modelValue: 5 })
    await wrapper.get('[role="radiogroup"]').trigger('keydown', { key: 'ArrowUp' })
    expect(wrapper.emitted('update:modelValue')).toEqual([[2], [null], [5]])
  })
})
