/** Signing out, from the header or from Settings: end the session(s), then the login page. */
import { useRouter } from 'vue-router'
import { api } from '@/api/client'
import { useTasksStore } from '@/stores/tasks'
import { handleError } from '@/utils/handleError'

export function useSignOut() {
  const router = useRouter()
  const tasks = useTasksStore()

  async function signOut(everywhere = false): Promise<void> {
    try {
      await (everywhere ? api.logoutAll() : api.logout())
    } catch (error) {
      handleError(error)
      if (everywhere) return // still signed in everywhere: stay, with the error shown
    }
    // The live channel would only meet 401s from now on.
    tasks.stopAll()
    await router.push({ name: 'login' })
  }

  return { signOut }
}
