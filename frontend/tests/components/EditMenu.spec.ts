import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import EditMenu from '@/components/EditMenu.vue'
import { applyLocale } from '@/locales'
import { plugins, setupStores, testRouter } from '../helpers'

describe('EditMenu', () => {
  it('opens a list of the four operations for this image, walked with the arrows and closed with Escape', async () => {
    applyLocale('zh-CN')
    const wrapper = mount(EditMenu, {
      props: { taskId: 'abc', index: 2 },
      global: { plugins: plugins(setupStores(), testRouter()) },
      attachTo: document.body,
    })
    const button = wrapper.get('[data-testid="edit-menu"]')
    expect(button.text()).toBe('编辑')
    expect(button.attributes('aria-expanded')).toBe('false')
    await button.trigger('click')
    await flushPromises()
    expect(button.attributes('aria-expanded')).toBe('true')
    const links = wrapper.findAll('a')
    expect(links.map((a) => a.text())).toEqual(['局部重绘', '消除', '扩图', '超清放大'])
    expect(links.map((a) => a.attributes('href'))).toEqual([
      '/edit/abc/2?op=inpaint',
      '/edit/abc/2?op=erase',
      '/edit/abc/2?op=outpaint',
      '/edit/abc/2?op=upscale',
    ])
    expect(document.activeElement).toBe(links[0]!.element)
    await wrapper.trigger('keydown', { key: 'ArrowUp' })
    expect(document.activeElement).toBe(links[3]!.element)
    await wrapper.trigger('keydown', { key: 'Escape' })
    expect(wrapper.findAll('a')).toHaveLength(0)
    expect(document.activeElement).toBe(button.element)
    wrapper.unmount()
  })
})
