import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { defineComponent, ref } from 'vue'
import RangeField from '@/components/RangeField.vue'

const range = { min: 1, max: 10, default: 5 }

/** A parent holding the value, so v-model runs both ways as it does in GenerateForm. */
function mountWithModel(initial: number | null) {
  const value = ref<number | null>(initial)
  const Parent = defineComponent({
    components: { RangeField },
    setup: () => ({ value, range }),
    template: `<RangeField id="guidance" v-model="value" label="Guidance" help="How closely to follow the prompt" :range="range" :step="0.5" data-testid="guidance-field" />`,
  })
  return { wrapper: mount(Parent), value }
}

describe('RangeField', () => {
  it('labels the slider and passes attributes to its root', () => {
    const { wrapper } = mountWithModel(null)
    const root = wrapper.get('[data-testid="guidance-field"]')
    expect(root.classes()).toContain('field')
    expect(root.get('label').attributes('for')).toBe('guidance')
    expect(root.get('label').text()).toBe('Guidance')
    expect(root.get('.field-help').text()).toBe('How closely to follow the prompt')
  })

  it("shows the model's default while the value is null, without writing it", () => {
    const { wrapper, value } = mountWithModel(null)
    expect((wrapper.get('.el-input-number input').element as HTMLInputElement).value).toBe('5.0') // precision follows the 0.5 step
    expect(value.value).toBeNull()
  })

  it('v-model: typing a number updates the bound value, and a new value shows in the box', async () => {
    const { wrapper, value } = mountWithModel(3)
    const input = wrapper.get('.el-input-number input')
    expect((input.element as HTMLInputElement).value).toBe('3.0')

    await input.setValue('7.5')
    await input.trigger('change')
    expect(value.value).toBe(7.5)

    value.value = 2
    await wrapper.vm.$nextTick()
    expect((input.element as HTMLInputElement).value).toBe('2.0')
  })
})
