import { crc32 } from '@/utils/png'

export interface PngInfo {
  width: number
  height: number
  bitDepth: number
  colourType: number
  pixels: Uint8Array
}

/** Read back a greyscale PNG, checking every chunk's CRC: what the mask upload really holds. */
export async function readGreyPng(blob: Blob): Promise<PngInfo> {
  const bytes = new Uint8Array(await blob.arrayBuffer())
  const signature = [137, 80, 78, 71, 13, 10, 26, 10]
  signature.forEach((b, i) => {
    if (bytes[i] !== b) throw new Error('not a PNG')
  })
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 8
  const info = { width: 0, height: 0, bitDepth: 0, colourType: 0 }
  const idat: Uint8Array[] = []
  while (at < bytes.length) {
    const length = view.getUint32(at)
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8))
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) throw new Error(`bad CRC in ${type}`)
    if (type === 'IHDR') {
      info.width = view.getUint32(at + 8)
      info.height = view.getUint32(at + 12)
      info.bitDepth = bytes[at + 16] ?? 0
      info.colourType = bytes[at + 17] ?? 0
    } else if (type === 'IDAT') {
      idat.push(bytes.slice(at + 8, at + 8 + length))
    }
    at += 12 + length
  }
  // the last chunk's checksum is a constant of the format: a reader that trusts no code of ours
  if (view.getUint32(bytes.length - 4) !== 0xae426082) throw new Error('bad IEND CRC')
  const stream = new Blob(idat as BlobPart[]).stream().pipeThrough(new DecompressionStream('deflate'))
  const raw = new Uint8Array(await new Response(stream).arrayBuffer())
  const { width, height } = info
  const pixels = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    if (raw[y * (width + 1)] !== 0) throw new Error('unexpected filter type')
    pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width)
  }
  return { ...info, pixels }
}
