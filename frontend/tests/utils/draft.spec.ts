import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { useGenerateFormStore } from '@/stores/generateForm'
import { useReferencesStore } from '@/stores/references'
import { DRAFT_KEY, readDraft, writeDraft } from '@/utils/draft'
import { setupStores } from '../helpers'

describe('the Generate draft', () => {
  beforeEach(() => localStorage.clear())
  afterEach(() => localStorage.clear())

  it('round-trips every field of the form through localStorage', () => {
    setupStores()
    const form = useGenerateFormStore()
    form.selectModel('demo')
    form.prompt = '水墨山水, a long prompt'
    form.negativePrompt = 'blur'
    form.numImages = 3
    form.seed = 42
    form.seedLocked = true
    useReferencesStore().restore(
      [{ uploadId: 'up1', name: 'cat.png', previewUrl: 'data:image/jpeg;base64,AAAA', width: 64, height: 64, bytes: 99 }],
      { refMax: 4 } as never,
    )
    writeDraft(form.toDraft())

    // a reload: fresh stores, the draft comes back
    setupStores()
    const again = useGenerateFormStore()
    again.restoreDraft(readDraft()!)
    expect(again.modelId).toBe('demo')
    expect(again.prompt).toBe('水墨山水, a long prompt')
    expect(again.numImages).toBe(3)
    expect(again.seed).toBe(42)
    expect(again.seedLocked).toBe(true)
    const refs = useReferencesStore().items
    expect(refs.map((r) => [r.uploadId, r.status, r.previewUrl])).toEqual([['up1', 'ready', 'data:image/jpeg;base64,AAAA']])
  })

  it('ignores garbage, other versions and blob: previews', () => {
    localStorage.setItem(DRAFT_KEY, '{not json')
    expect(readDraft()).toBeNull()
    localStorage.setItem(DRAFT_KEY, JSON.stringify({ v: 99, draft: { prompt: 'x' } }))
    expect(readDraft()).toBeNull()
    localStorage.setItem(
      DRAFT_KEY,
      JSON.stringify({
        v: 1,
        draft: {
          prompt: 5,
          numImages: -3,
          optimize: 'turbo',
          references: [{ uploadId: 'u', previewUrl: 'blob:http://x/1' }, { name: 'no id' }],
        },
      }),
    )
    expect(readDraft()).toEqual({ references: [{ uploadId: 'u', name: 'u', previewUrl: '', width: null, height: null, bytes: 0 }] })
  })

  it('keeps a model that is no longer available out of the form', () => {
    setupStores({ allAvailable: false })
    const form = useGenerateFormStore()
    form.selectModel('demo')
    form.restoreDraft({ modelId: 'no-such-model', prompt: 'kept' })
    expect(form.modelId).toBe('demo')
    expect(form.prompt).toBe('kept')
  })
})
