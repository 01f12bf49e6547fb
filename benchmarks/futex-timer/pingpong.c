/* The floor of a same-core round trip: two processes on CPU 0 hand a token back and forth,
 * over a pipe (mode 0), over a shared futex word with untimed sleeps (mode 1), or with sleeps
 * that arm a 100 ms timer as a waiter watching for a dead peer must (mode 2). Prints the wall
 * time and the CPU time (both processes) per round trip.
 *   gcc -O2 benchmarks/futex-timer/pingpong.c -o /tmp/pingpong && /tmp/pingpong 0|1|2
 * docs/ipc-core.md ("Waking without lost wake-ups") gives the figures measured with it. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long futex_wait(uint32_t *word, uint32_t expected, struct timespec *timeout) {
    return syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, 0, 0);
}

static long futex_wake(uint32_t *word) { return syscall(SYS_futex, word, FUTEX_WAKE, 1, 0, 0, 0); }

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec * 1e-6; }

int main(int argc, char **argv) {
    int mode = argc > 1 ? atoi(argv[1]) : 1;
    const int round_trips = 200000;
    cpu_set_t cpu0;
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    sched_setaffinity(0, sizeof cpu0, &cpu0);
    uint32_t *word = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int there[2], back[2];
    if (word == MAP_FAILED || pipe(there) || pipe(back)) return 1;
    struct timespec watch = {0, 100000000};
    struct timespec *timeout = mode == 2 ? &watch : NULL;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t child = fork();
    for (int i = 0; i < round_trips; i++) {
        char token = 1;
        /* The word counts hand-overs: odd after the parent's, even after the child's. */
        uint32_t mine = child ? 2 * i + 1 : 2 * i + 2, theirs = child ? 2 * i + 2 : 2 * i + 1;
        if (mode == 0 && child) {
            if (write(there[1], &token, 1) != 1 || read(back[0], &token, 1) != 1) return 1;
        } else if (mode == 0) {
            if (read(there[0], &token, 1) != 1 || write(back[1], &token, 1) != 1) return 1;
        } else if (child) {
            __atomic_store_n(word, mine, __ATOMIC_RELEASE);
            futex_wake(word);
            while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != theirs) futex_wait(word, mine, timeout);
        } else {
            while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != theirs) futex_wait(word, theirs - 1, timeout);
            __atomic_store_n(word, mine, __ATOMIC_RELEASE);
            futex_wake(word);
        }
    }
    if (!child) _exit(0);
    waitpid(child, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    double cpu = seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(children.ru_utime) +
                 seconds(children.ru_stime);
    double wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
    const char *names[] = {"pipe", "futex, untimed sleeps", "futex, 100 ms timer per sleep"};
    printf("%s: %.2f us a round trip, %.2f us CPU\n", names[mode % 3], wall / round_trips * 1e6,
           cpu / round_trips * 1e6);
    return 0;
}
