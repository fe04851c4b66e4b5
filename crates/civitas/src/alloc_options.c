/* mimalloc's options for the civitas binary, set before main runs.
 *
 * purge_delay 0: pages mimalloc no longer uses go back to the operating system at once. Its default keeps
 * them for a second, and purges only on the allocator's next activity, so a server that goes quiet after a
 * burst of load keeps the burst's memory: 73 MB of PSS after a round of ticket creation at 1 and 32
 * clients against 53 MB with 0, at the same throughput (docs/PERFORMANCE.md, run I and after).
 *
 * MIMALLOC_PURGE_DELAY in the environment still wins, as mimalloc documents. */
#include <stdlib.h>
#include <mimalloc.h>

__attribute__((constructor)) static void civitas_alloc_options(void) {
    if (getenv("MIMALLOC_PURGE_DELAY") == NULL) {
        mi_option_set(mi_option_purge_delay, 0);
    }
}
