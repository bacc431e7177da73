/**
 * The Generate form's draft in localStorage, so a reload (or a closed tab) does not lose a long
 * prompt, the chosen model, size, options and the references already uploaded.
 */
import type { OptimizeChoice } from '@/utils/capabilities'

export const DRAFT_KEY = 'vis.generate-draft'
const VERSION = 1

export interface DraftReference {
  uploadId: string
  name: string
  /** A server URL or a small data: URL; never a blob: URL (gone after a reload). */
  previewUrl: string
  width: number | null
  height: number | null
  bytes: number
}

export interface Draft {
  modelId: string
  prompt: string
  negativePrompt: string
  sizeChoice: string
  customWidth: number | null
  customHeight: number | null
  seed: number | null
  seedLocked: boolean
  guidance: number | null
  strength: number | null
  watermark: boolean
  optimize: OptimizeChoice
  outputMode: 'single' | 'group'
  numImages: number
  groupMax: number
  references: DraftReference[]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

function reference(value: unknown): DraftReference | null {
  if (!isObject(value) || typeof value.uploadId !== 'string' || !value.uploadId) return null
  const preview = str(value.previewUrl)
  return {
    uploadId: value.uploadId,
    name: str(value.name) || value.uploadId,
    previewUrl: preview.startsWith('blob:') ? '' : preview,
    width: numOrNull(value.width),
    height: numOrNull(value.height),
    bytes: numOrNull(value.bytes) ?? 0,
  }
}

/** The saved draft, checked field by field: a stale or hand-edited entry never breaks the page. */
export function readDraft(storage: Storage = localStorage): Partial<Draft> | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(storage.getItem(DRAFT_KEY) ?? 'null')
  } catch {
    return null
  }
  if (!isObject(parsed) || parsed.v !== VERSION || !isObject(parsed.draft)) return null
  const d = parsed.draft
  const out: Partial<Draft> = {}
  if (typeof d.modelId === 'string') out.modelId = d.modelId
  if (typeof d.prompt === 'string') out.prompt = d.prompt
  if (typeof d.negativePrompt === 'string') out.negativePrompt = d.negativePrompt
  if (typeof d.sizeChoice === 'string') out.sizeChoice = d.sizeChoice
  if ('customWidth' in d) out.customWidth = numOrNull(d.customWidth)
  if ('customHeight' in d) out.customHeight = numOrNull(d.customHeight)
  if ('seed' in d) out.seed = numOrNull(d.seed)
  if (typeof d.seedLocked === 'boolean') out.seedLocked = d.seedLocked
  if ('guidance' in d) out.guidance = numOrNull(d.guidance)
  if ('strength' in d) out.strength = numOrNull(d.strength)
  if (typeof d.watermark === 'boolean') out.watermark = d.watermark
  if (d.optimize === 'off' || d.optimize === 'on' || d.optimize === 'standard' || d.optimize === 'fast') out.optimize = d.optimize
  if (d.outputMode === 'single' || d.outputMode === 'group') out.outputMode = d.outputMode
  const numImages = numOrNull(d.numImages)
  if (numImages !== null && numImages >= 1) out.numImages = Math.round(numImages)
  const groupMax = numOrNull(d.groupMax)
  if (groupMax !== null && groupMax >= 2) out.groupMax = Math.round(groupMax)
  if (Array.isArray(d.references)) {
    out.references = d.references.map(reference).filter((r): r is DraftReference => r !== null)
  }
  return out
}

export function writeDraft(draft: Draft, storage: Storage = localStorage): void {
  try {
    storage.setItem(DRAFT_KEY, JSON.stringify({ v: VERSION, draft }))
  } catch {
    // storage full or disabled: the draft is simply not kept
  }
}
