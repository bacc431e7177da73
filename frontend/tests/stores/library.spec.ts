import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Collection, ReferenceSet } from '@/api/types'
import { useCollectionsStore } from '@/stores/collections'
import { useReferenceSetsStore } from '@/stores/referenceSets'
import { useReferencesStore } from '@/stores/references'
import { capabilitiesOf } from '@/utils/capabilities'
import { jsonResponse, modelById, setupStores } from '../helpers'
import { mockFetch } from '../mocks'

function collection(id: string, name: string, count = 0): Collection {
  return { id, name, count, cover_url: null, created_at: '2026-11-30T00:00:00Z', updated_at: '2026-11-30T00:00:00Z' }
}

describe('collections store', () => {
  beforeEach(() => {
    setupStores()
  })
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('loads once, keeps the list sorted by name and follows every change', async () => {
    const fetch = mockFetch({
      'GET /api/v1/collections': () => jsonResponse({ items: [collection('b', 'Birds', 2), collection('a', 'Animals', 1)] }),
      'POST /api/v1/collections': (_url, init) => {
        expect(JSON.parse(String(init.body))).toEqual({ name: 'Cats' })
        return jsonResponse(collection('c', 'Cats'), 201)
      },
      'POST /api/v1/collections/c/items': (_url, init) => {
        expect(JSON.parse(String(init.body))).toEqual({ task_ids: ['t1', 't2'] })
        return jsonResponse({ collection: collection('c', 'Cats', 2), changed: 2 })
      },
      'PATCH /api/v1/collections/a': () => jsonResponse(collection('a', 'Zebras', 1)),
      'DELETE /api/v1/collections/b': () => new Response(null, { status: 204 }),
    })
    const store = useCollectionsStore()
    await Promise.all([store.load(), store.load()])
    await store.load()
    expect(fetch.mock.calls.filter(([url]) => String(url).endsWith('/api/v1/collections'))).toHaveLength(1)
    expect(store.items.map((c) => c.name)).toEqual(['Animals', 'Birds'])

    const cats = await store.create('Cats')
    expect(await store.add(cats.id, ['t1', 't2'])).toBe(2)
    expect(store.items.map((c) => [c.name, c.count])).toEqual([
      ['Animals', 1],
      ['Birds', 2],
      ['Cats', 2],
    ])
    await store.rename('a', 'Zebras')
    await store.remove('b')
    expect(store.items.map((c) => c.name)).toEqual(['Cats', 'Zebras'])
    expect(store.nameOf('c')).toBe('Cats')
    expect(store.nameOf('gone')).toBe('')
  })
})

describe('reference sets', () => {
  beforeEach(() => {
    setupStores()
  })
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  const mascot: ReferenceSet = {
    id: 's1',
    name: 'Mascot',
    created_at: '2026-11-30T00:00:00Z',
    updated_at: '2026-11-30T00:00:00Z',
    images: ['a', 'b', 'c'].map((x) => ({
      upload_id: x.repeat(64),
      url: `/api/v1/uploads/${x.repeat(64)}`,
      width: 64,
      height: 48,
      bytes: 100,
      content_type: 'image/png',
    })),
  }

  it('uses a set through the server check, then adds its images ready to send', async () => {
    mockFetch({
      'POST /api/v1/reference-sets/s1/use': (_url, init) => {
        expect(JSON.parse(String(init.body))).toEqual({ model: 'demo', already: 0 })
        return jsonResponse(mascot)
      },
    })
    const sets = useReferenceSetsStore()
    const refs = useReferencesStore()
    const images = await sets.use('s1', 'demo', 0)
    expect(refs.addSaved(images, capabilitiesOf(modelById('demo')))).toEqual([])
    expect(refs.items.map((i) => [i.uploadId, i.status, i.previewUrl])).toEqual(
      mascot.images.map((i) => [i.upload_id, 'ready', i.url]),
    )
    // the draft keeps them (server URLs survive a reload)
    expect(refs.forDraft().map((r) => r.previewUrl)).toEqual(mascot.images.map((i) => i.url))
  })

  it("passes the server's refusal on (too many for the model), and adds nothing", async () => {
    mockFetch({
      'POST /api/v1/reference-sets/s1/use': () =>
        jsonResponse(
          { error: { code: 'too_many_references', message: '“Mascot”有 3 张图，demo 最多接受 4 张参考图', details: { limit: 4 } } },
          422,
        ),
    })
    const sets = useReferenceSetsStore()
    await expect(sets.use('s1', 'demo', 2)).rejects.toMatchObject({ status: 422, code: 'too_many_references' })
    expect(useReferencesStore().items).toEqual([])
  })

  it('adds only what fits when the form filled up meanwhile', () => {
    const refs = useReferencesStore()
    const caps = capabilitiesOf(modelById('demo'))
    const many = Array.from({ length: caps.refMax + 1 }, (_, i) => ({
      uploadId: String(i).padStart(64, '0'),
      name: `r${i}`,
      previewUrl: '',
      width: 1,
      height: 1,
      bytes: 1,
    }))
    const rejected = refs.addSaved(many, caps)
    expect(refs.items).toHaveLength(caps.refMax)
    expect(rejected).toHaveLength(1)
  })
})
