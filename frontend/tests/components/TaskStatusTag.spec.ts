import { mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import TaskStatusTag from '@/components/TaskStatusTag.vue'
import { applyLocale } from '@/locales'
import { plugins, setupStores } from '../helpers'

describe('TaskStatusTag', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('reads at once: no zoom-in transition when a card mounts (the screenshot of a new card had no status)', () => {
    const wrapper = mount(TaskStatusTag, { props: { status: 'processing' }, global: { plugins: plugins(setupStores()) } })
    expect(wrapper.get('.el-tag').classes().join(' ')).not.toContain('zoom-in')
    expect(wrapper.get('.el-tag').attributes('data-status')).toBe('processing')
    expect(wrapper.text()).toBe('生成中')
  })
})
