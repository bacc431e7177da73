/**
 * One clock for every running-job timer: a single interval however many cards tick, stopped
 * when no component needs it.
 */
import { onScopeDispose, ref, type Ref } from 'vue'

const now = ref(Date.now())
let users = 0
let timer: ReturnType<typeof setInterval> | null = null

export function useNow(): Ref<number> {
  users++
  // A card mounted between two ticks starts from the true time, not up to a second behind.
  now.value = Date.now()
  if (!timer) {
    timer = setInterval(() => {
      now.value = Date.now()
    }, 1000)
  }
  onScopeDispose(() => {
    users--
    if (!users && timer) {
      clearInterval(timer)
      timer = null
    }
  })
  return now
}
