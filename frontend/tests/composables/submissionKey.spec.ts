import { describe, expect, it } from 'vitest'
import { submissionKey } from '@/composables/useGenerate'

describe('submissionKey: what counts as the same job', () => {
  const base = { type: 'text2image' as const, body: { model: 'demo', prompt: 'a fox', size: '1K', seed: 1 } }

  it('ignores a seed drawn at random for each submit', () => {
    expect(submissionKey(base, false)).toBe(submissionKey({ ...base, body: { ...base.body, seed: 2 } }, false))
  })

  it('tells apart a locked seed, another prompt, size or endpoint', () => {
    const key = submissionKey(base, true)
    expect(submissionKey({ ...base, body: { ...base.body, seed: 2 } }, true)).not.toBe(key)
    expect(submissionKey({ ...base, body: { ...base.body, prompt: 'a cat' } }, false)).not.toBe(submissionKey(base, false))
    expect(submissionKey({ ...base, body: { ...base.body, size: '2K' } }, false)).not.toBe(submissionKey(base, false))
    expect(submissionKey({ ...base, type: 'image2image' }, false)).not.toBe(submissionKey(base, false))
  })
})
