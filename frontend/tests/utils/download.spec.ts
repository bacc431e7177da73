import { describe, expect, it } from 'vitest'
import { downloadName, promptSlug } from '@/utils/download'

// The same cases as backend/tests/storage/test_names.py: one scheme for single files and zips.
describe('download names', () => {
  it('slug keeps words of any script and drops the rest', () => {
    expect(promptSlug('A misty water town at dawn, ink-wash style!')).toBe('a-misty-water-town-at-dawn-ink-wash')
    expect(promptSlug('水墨山水画 with mountains')).toBe('水墨山水画-with-mountains')
    expect(promptSlug('../../etc/passwd')).toBe('etc-passwd')
    expect(promptSlug('  ***  ')).toBe('image')
    expect(promptSlug('Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ')).toBe('fullwidth-abc')
  })

  it('slug is cut at a word boundary', () => {
    expect(promptSlug('one two three four five six seven eight nine ten eleven')).toBe('one-two-three-four-five-six-seven-eight')
    expect(promptSlug('x'.repeat(100))).toHaveLength(40)
  })

  it('name carries the UTC time, the slug, the task and the number from one', () => {
    const task = '0123456789abcdef0123456789abcdef'
    expect(downloadName('2026-01-02T11:04:05+08:00', 'A red fox', task, 0, '/images/2026/01/02/abc-0.PNG')).toBe(
      '20260102-030405_a-red-fox_01234567_1.png',
    )
    expect(downloadName('2026-01-02T03:04:05Z', 'A red fox', task, 3, '/images/x/abc-3.webp?v=1')).toBe(
      '20260102-030405_a-red-fox_01234567_4.webp',
    )
  })
})
