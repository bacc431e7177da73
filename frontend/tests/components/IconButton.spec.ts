import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { Star } from '@element-plus/icons-vue'
import IconButton from '@/components/IconButton.vue'

describe('IconButton', () => {
  it('is named by its title: aria-label is the title, and follows it', async () => {
    const wrapper = mount(IconButton, { props: { title: 'Copy prompt', icon: Star } })
    const button = wrapper.get('button')
    expect(button.attributes('type')).toBe('button')
    expect(button.attributes('title')).toBe('Copy prompt')
    expect(button.attributes('aria-label')).toBe('Copy prompt')
    expect(button.get('svg').attributes('aria-hidden')).toBe('true')

    await wrapper.setProps({ title: '复制提示词' })
    expect(button.attributes('title')).toBe('复制提示词')
    expect(button.attributes('aria-label')).toBe('复制提示词')
  })

  it('is a toggle only when told: aria-pressed and the active look follow `pressed`', async () => {
    const wrapper = mount(IconButton, { props: { title: 'Favourite' } })
    expect(wrapper.attributes('aria-pressed')).toBeUndefined()
    expect(wrapper.classes()).not.toContain('is-active')

    await wrapper.setProps({ pressed: false })
    expect(wrapper.attributes('aria-pressed')).toBe('false')
    await wrapper.setProps({ pressed: true })
    expect(wrapper.attributes('aria-pressed')).toBe('true')
    expect(wrapper.classes()).toContain('is-active')
  })

  it('emits click, and not while disabled', async () => {
    const wrapper = mount(IconButton, { props: { title: 'Move left' } })
    await wrapper.trigger('click')
    expect(wrapper.emitted('click')).toHaveLength(1)

    await wrapper.setProps({ disabled: true })
    expect(wrapper.attributes('disabled')).toBeDefined()
    await wrapper.trigger('click')
    expect(wrapper.emitted('click')).toHaveLength(1)
  })

  it('renders a download link when given an href, labelled the same way', () => {
    const wrapper = mount(IconButton, {
      props: { title: 'Download', href: '/images/a.png', download: 'a.png', variant: 'overlay' },
      attrs: { 'data-testid': 'result-download' },
    })
    const link = wrapper.get('a')
    expect(link.attributes()).toMatchObject({
      href: '/images/a.png',
      download: 'a.png',
      title: 'Download',
      'aria-label': 'Download',
      'data-testid': 'result-download',
    })
    expect(link.attributes('type')).toBeUndefined()
    expect(link.classes()).toEqual(expect.arrayContaining(['icon-button', 'icon-button--overlay']))
  })

  it('shows its slot when it has no icon (a text button such as the language switch)', () => {
    const wrapper = mount(IconButton, { props: { title: 'Switch language' }, slots: { default: 'EN' } })
    expect(wrapper.text()).toBe('EN')
    expect(wrapper.find('svg').exists()).toBe(false)
  })
})
