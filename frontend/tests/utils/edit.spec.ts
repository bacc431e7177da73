import { describe, expect, it } from 'vitest'
import { i18n } from '@/locales'
import { isEditOperation, taskLabel } from '@/utils/edit'

describe('edit helpers', () => {
  it('knows the four operations', () => {
    expect(['inpaint', 'erase', 'outpaint', 'upscale'].every(isEditOperation)).toBe(true)
    expect(isEditOperation('crop')).toBe(false)
    expect(isEditOperation(undefined)).toBe(false)
  })

  it('names a picture without a prompt by what made it', () => {
    i18n.global.locale.value = 'en'
    const t = (key: string) => i18n.global.t(key)
    expect(taskLabel({ prompt: 'a fox', operation: null, type: 'text2image' }, t)).toBe('a fox')
    expect(taskLabel({ prompt: '', operation: 'erase', type: 'edit' }, t)).toBe('Edit · Erase')
    expect(taskLabel({ prompt: '  ', operation: null, type: 'image2image' }, t)).toBe('Image to image')
  })
})
