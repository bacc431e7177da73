import { beforeEach, describe, expect, it } from 'vitest'
import { CUSTOM_SIZE, useGenerateFormStore } from '@/stores/generateForm'
import { useReferencesStore } from '@/stores/references'
import { setupStores } from '../helpers'

describe('generate form store', () => {
  beforeEach(() => {
    setupStores()
  })

  it('starts a model on its default size: a preset, or a named level', () => {
    const form = useGenerateFormStore()
    form.selectModel('demo')
    expect(form.sizeChoice).toBe('1024x1024')
    form.selectModel('doubao-seededit-3-0-i2i-250628')
    expect(form.sizeChoice).toBe('adaptive')
  })

  it('keeps values that still fit the new model and resets the rest', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-3-0-t2i-250415')
    expect(form.guidance).toBe(2.5)
    form.guidance = 8
    form.selectModel('demo')
    expect(form.guidance).toBe(8) // demo takes 1-10 too
    form.selectModel('doubao-seedream-4-0-250828')
    expect(form.guidance).toBeNull() // Seedream 4.0 takes none
    expect(form.caps?.optimizeChoices).toEqual(['off', 'standard', 'fast'])
  })

  it('builds a text2image request with only the fields the model takes', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-4-0-250828')
    form.prompt = '  a fox  '
    form.negativePrompt = 'ignored: not taken'
    form.optimize = 'fast'
    const { type, body } = form.buildSubmission()
    expect(type).toBe('text2image')
    expect(body).toEqual({
      model: 'doubao-seedream-4-0-250828',
      prompt: 'a fox',
      size: '2048x2048',
      watermark: false,
      optimize_prompt: 'fast',
      num_images: 1,
    })
  })

  it('sends web_search and output_format only where the model takes them, and remixes them back', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-5-0-260128')
    form.prompt = 'this week in Hangzhou'
    form.webSearch = true
    form.outputFormat = 'png'
    const { body } = form.buildSubmission()
    expect(body).toMatchObject({ model: 'doubao-seedream-5-0-260128', web_search: true, output_format: 'png', size: '2048x2048' })
    form.selectModel('doubao-seedream-5-0-pro-260628')
    expect(form.webSearch).toBe(false)
    expect(form.outputFormat).toBe('png')
    expect(form.buildSubmission().body.web_search).toBeUndefined()
    form.selectModel('doubao-seedream-4-5-251128')
    expect(form.outputFormat).toBe('')
    const plain = form.buildSubmission().body
    expect(plain.output_format).toBeUndefined()
    expect(plain.web_search).toBeUndefined()
    form.remix({ model: 'doubao-seedream-5-0-260128', prompt: 'again', parameters: { web_search: true, output_format: 'jpeg' } })
    expect(form.modelId).toBe('doubao-seedream-5-0-260128')
    expect(form.webSearch).toBe(true)
    expect(form.outputFormat).toBe('jpeg')
  })

  it('sends layer_decomposition for single images of a model that takes it, never JPEG with it', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-5-0-pro-260628')
    form.prompt = 'a poster'
    form.layers = true
    form.outputFormat = 'jpeg'
    const { body } = form.buildSubmission()
    expect(body.layer_decomposition).toBe(true)
    expect(body.output_format).toBeUndefined() // layers are transparent PNGs
    form.outputFormat = 'png'
    expect(form.buildSubmission().body.output_format).toBe('png')
    // The demo takes layers but not with a group.
    form.selectModel('demo')
    expect(form.layers).toBe(true)
    form.outputMode = 'group'
    expect(form.buildSubmission().body.layer_decomposition).toBeUndefined()
    form.outputMode = 'single'
    expect(form.buildSubmission().body.layer_decomposition).toBe(true)
    form.selectModel('doubao-seedream-4-0-250828')
    expect(form.layers).toBe(false)
    expect(form.buildSubmission().body.layer_decomposition).toBeUndefined()
    form.remix({ model: 'doubao-seedream-5-0-pro-260628', prompt: 'again', parameters: { layer_decomposition: true } })
    expect(form.layers).toBe(true)
  })

  it('uses a fresh random seed unless locked', () => {
    const form = useGenerateFormStore()
    form.selectModel('demo')
    form.prompt = 'x'
    const first = form.buildSubmission().body.seed
    expect(typeof first).toBe('number')
    form.seed = 1234
    form.seedLocked = true
    expect(form.buildSubmission().body.seed).toBe(1234)
    expect(form.buildSubmission().body.seed).toBe(1234)
  })

  it('sends a group instead of num_images in group mode', () => {
    const form = useGenerateFormStore()
    form.selectModel('demo')
    form.prompt = 'x'
    form.outputMode = 'group'
    form.groupMax = 3
    const { body } = form.buildSubmission()
    expect(body.group).toEqual({ max_images: 3 })
    expect(body.num_images).toBeUndefined()
  })

  it('goes to image2image with ready references, and blocks while they upload', () => {
    const form = useGenerateFormStore()
    const refs = useReferencesStore()
    form.selectModel('demo')
    form.prompt = 'x'
    refs.items.push({
      key: 'a', name: 'a.png', previewUrl: 'blob:a', status: 'uploading', uploadId: null, width: null, height: null, bytes: 1, error: null,
    })
    expect(form.mode).toBe('image2image')
    expect(form.issues.map((i) => i.key)).toContain('generate.issues.uploading')
    refs.items[0]!.status = 'ready'
    refs.items[0]!.uploadId = 'up-1'
    expect(form.canSubmit).toBe(true)
    const { type, body } = form.buildSubmission()
    expect(type).toBe('image2image')
    expect(body).toMatchObject({ images: ['up-1'], strength: 0.5 })
  })

  it('reports the custom size problem as an issue', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-3-0-t2i-250415')
    form.prompt = 'x'
    form.selectSize(CUSTOM_SIZE)
    form.customWidth = 4000
    expect(form.sizeProblem?.key).toBe('size.errors.maxSide')
    expect(form.canSubmit).toBe(false)
  })

  it('remixes a past task back into the form', () => {
    const form = useGenerateFormStore()
    form.selectModel('demo')
    form.remix({
      model: 'doubao-seedream-3-0-t2i-250415',
      prompt: 'old prompt',
      negative_prompt: null,
      parameters: { width: 1280, height: 720, seed: 99, guidance_scale: 7, watermark: true },
    })
    expect(form.modelId).toBe('doubao-seedream-3-0-t2i-250415')
    expect(form.prompt).toBe('old prompt')
    expect(form.sizeChoice).toBe('1280x720')
    expect(form.seed).toBe(99)
    expect(form.seedLocked).toBe(true)
    expect(form.guidance).toBe(7)
    expect(form.watermark).toBe(true)
  })
})

describe('reference images', () => {
  beforeEach(() => {
    setupStores()
  })

  function file(name: string, size: number, type = 'image/png'): File {
    const f = new File(['x'], name, { type })
    Object.defineProperty(f, 'size', { value: size })
    return f
  }

  it('checks count, size and type before anything is uploaded', async () => {
    const { mockFetch } = await import('../mocks')
    const upload = mockFetch({
      'POST /api/v1/uploads': async () =>
        new Response(JSON.stringify({ id: 'u', width: 10, height: 10, bytes: 1, content_type: 'image/png' }), { status: 200 }),
    })
    const form = useGenerateFormStore()
    const refs = useReferencesStore()
    form.selectModel('doubao-seededit-3-0-i2i-250628') // exactly one reference, 10 MB
    const rejected = refs.addFiles(
      [file('big.png', 11 * 1024 * 1024), file('doc.pdf', 10, 'application/pdf'), file('ok.png', 1000), file('extra.png', 1000)],
      form.caps,
    )
    expect(rejected.map((r) => r.name)).toEqual(['big.png', 'doc.pdf', 'extra.png'])
    expect(rejected[0]!.reason).toContain('10 MB')
    expect(refs.items.map((r) => r.name)).toEqual(['ok.png'])
    expect(upload).toHaveBeenCalledTimes(1)
  })

  it('refuses references for a text-only model', () => {
    const form = useGenerateFormStore()
    form.selectModel('doubao-seedream-3-0-t2i-250415')
    const rejected = useReferencesStore().addFiles([new File(['x'], 'a.png', { type: 'image/png' })], form.caps)
    expect(rejected).toHaveLength(1)
  })

  it('reorders', () => {
    const form = useGenerateFormStore()
    const refs = useReferencesStore()
    form.selectModel('demo')
    refs.addUploaded(['a', 'b', 'c'], form.caps)
    refs.move(0, 2)
    expect(refs.items.map((r) => r.uploadId)).toEqual(['b', 'c', 'a'])
  })
})
