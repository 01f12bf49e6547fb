/* A program that polls shared memory without a pause instruction, for `trace`'s `busy-wait`
 * finding (tests/trace_privileged.rs): a child waits for a flag in a shared page by reading
 * it in a tight loop (a load, a compare, a branch) while its parent sleeps half a second and
 * then sets it. The child holds a CPU the whole time and runs at a handful of addresses:
 * polling, found. */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    atomic_int *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (flag == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        alarm(30); /* A parent gone without setting the flag ends the child, not the machine. */
        while (atomic_load_explicit(flag, memory_order_acquire) == 0) {
        }
        _exit(0);
    }
    struct timespec half = {0, 500000000};
    nanosleep(&half, NULL);
    atomic_store_explicit(flag, 1, memory_order_release);
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the polling child did not end well\n");
        return 1;
    }
    return 0;
}
