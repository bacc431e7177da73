import type { EditOperation } from '@/api/types'

/** In the order the menus list them. */
export const EDIT_OPERATIONS: readonly EditOperation[] = ['inpaint', 'erase', 'outpaint', 'upscale']

export function isEditOperation(value: unknown): value is EditOperation {
  return typeof value === 'string' && (EDIT_OPERATIONS as readonly string[]).includes(value)
}
