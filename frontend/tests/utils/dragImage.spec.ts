import { describe, expect, it } from 'vitest'
import { carriesImage, droppedImageUrl, STUDIO_IMAGE_TYPE } from '@/utils/dragImage'

function transfer(data: Record<string, string>): DataTransfer {
  return { getData: (type: string) => data[type] ?? '' } as DataTransfer
}

describe('dragging stored images onto the references', () => {
  const origin = 'http://studio.test'

  it("takes this studio's stored images, by its own type or a uri-list (another tab)", () => {
    expect(droppedImageUrl(transfer({ [STUDIO_IMAGE_TYPE]: '/images/2026/11/30/a.png' }), origin)).toBe('/images/2026/11/30/a.png')
    expect(droppedImageUrl(transfer({ 'text/uri-list': '# comment\r\nhttp://studio.test/images/x/b.webp' }), origin)).toBe(
      '/images/x/b.webp',
    )
    expect(carriesImage(['text/uri-list'])).toBe(true)
    expect(carriesImage(['Files'])).toBe(false)
  })

  it('refuses links elsewhere: other sites, other paths, nothing at all', () => {
    expect(droppedImageUrl(transfer({ 'text/uri-list': 'https://evil.example/images/a.png' }), origin)).toBeNull()
    expect(droppedImageUrl(transfer({ 'text/uri-list': 'http://studio.test/history/abc' }), origin)).toBeNull()
    expect(droppedImageUrl(transfer({}), origin)).toBeNull()
    expect(droppedImageUrl(null, origin)).toBeNull()
  })
})
