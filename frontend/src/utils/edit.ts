import type { EditOperation, Task } from '@/api/types'

/** In the order the menus list them. */
export const EDIT_OPERATIONS: readonly EditOperation[] = ['inpaint', 'erase', 'outpaint', 'upscale']

export function isEditOperation(value: unknown): value is EditOperation {
  return typeof value === 'string' && (EDIT_OPERATIONS as readonly string[]).includes(value)
}

/**
 * Words for a picture where its prompt would go (alt text, a button's name): an erase or an
 * upscale has no prompt, and an empty name leaves a screen reader with nothing to say.
 */
export function taskLabel(task: Pick<Task, 'prompt' | 'operation' | 'type'>, t: (key: string) => string): string {
  if (task.prompt.trim()) return task.prompt
  return task.operation ? `${t('taskType.edit')} · ${t(`edit.op.${task.operation}`)}` : t(`taskType.${task.type}`)
}
