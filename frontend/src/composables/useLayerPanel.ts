import { defineAsyncComponent } from 'vue'
import type { Task } from '@/api/types'

/** The layer panel, fetched only when someone opens it (keeps it out of the first bundle). */
export const LayerPanel = defineAsyncComponent(() => import('@/components/LayerPanel.vue'))

/** Whether a task asked for layered images (its outputs may have layers). */
export function isLayered(task: Pick<Task, 'parameters' | 'status'>): boolean {
  return task.status === 'completed' && task.parameters?.layer_decomposition === true
}
