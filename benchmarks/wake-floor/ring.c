/* The floor of a hand-off between processes that outnumber the CPUs: N processes on CPU 0
 * pass a token round a ring (stage i wakes stage i+1), as a pipeline's paced message does,
 * over pipes (mode 0), over shared futex words woken then waited on by two calls (mode 1, what
 * ipc-core's blocking sides do), with the wake and the next wait in one io_uring_enter
 * (mode 2: IORING_OP_FUTEX_WAKE then IORING_OP_FUTEX_WAIT, Linux 6.7), which never returns to
 * user space between them, so the woken stage cannot preempt the waker there, or over
 * eventfds (mode 3: a write of 1 wakes the next stage, which reads its own; what a ring whose
 * sides sleep on eventfds pays). Prints the time
 * and CPU per lap and hop, and the context switches of all N processes (one per hop is the
 * least a hand-off can cost).
 *   gcc -O2 benchmarks/wake-floor/ring.c -o /tmp/ring && /tmp/ring MODE [N [SETUP_FLAGS]]
 * SETUP_FLAGS are io_uring_setup's (0x3000: SINGLE_ISSUER | DEFER_TASKRUN); HOPS=n in the
 * environment sets the token's hops (400,000 by default). docs/benchmarks.md ("The floor of a
 * hand-off") gives the figures measured with it. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OP_FUTEX_WAIT 51
#define OP_FUTEX_WAKE 52

struct uring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *u, unsigned flags) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flags;
    u->fd = syscall(__NR_io_uring_setup, 4, &p);
    if (u->fd < 0) { perror("io_uring_setup"); return -1; }
    size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (cqsz > sqsz) sqsz = cqsz;
    char *sq = mmap(0, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
    char *cq = sq;
    u->sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
    u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    u->sq_array = (unsigned *)(sq + p.sq_off.array);
    u->cq_head = (unsigned *)(cq + p.cq_off.head);
    u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
}

static void push(struct uring *u, int op, uint32_t *word, uint64_t val, int flags) {
    unsigned tail = *u->sq_tail, i = tail & *u->sq_mask;
    struct io_uring_sqe *s = &u->sqes[i];
    memset(s, 0, sizeof *s);
    s->opcode = op;
    s->fd = 2; /* FUTEX2_SIZE_U32, shared */
    s->addr = (uintptr_t)word;
    s->off = val;
    s->addr3 = 0xffffffffu;
    s->flags = flags;
    u->sq_array[i] = i;
    __atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static void reap(struct uring *u) {
    unsigned head = *u->cq_head;
    while (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
        int r = u->cqes[head & *u->cq_mask].res;
        if (r < 0 && r != -EAGAIN) fprintf(stderr, "a futex operation failed: %d\n", r);
        head++;
    }
    __atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
}

static long futex_wait(uint32_t *word, uint32_t expected) {
    return syscall(SYS_futex, word, FUTEX_WAIT, expected, 0, 0, 0);
}
static long futex_wake(uint32_t *word) { return syscall(SYS_futex, word, FUTEX_WAKE, 1, 0, 0, 0); }
static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec * 1e-6; }

int main(int argc, char **argv) {
    int mode = argc > 1 ? atoi(argv[1]) : 1;
    int n = argc > 2 ? atoi(argv[2]) : 2;
    unsigned uflags = argc > 3 ? strtoul(argv[3], 0, 0) : 0;
    if (n < 2 || n > 64 || mode < 0 || mode > 3) {
        fprintf(stderr, "usage: ring MODE(0 pipe, 1 futex, 2 io_uring, 3 eventfd) [N(2-64) [SETUP_FLAGS]]\n");
        return 2;
    }
    const int laps = (getenv("HOPS") ? atoi(getenv("HOPS")) : 400000) / n;
    cpu_set_t cpu0;
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    sched_setaffinity(0, sizeof cpu0, &cpu0);
    uint32_t *words = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int pipes[64][2];
    int eventfds[64];
    for (int i = 0; i < n; i++) {
        if (pipe(pipes[i])) return 1;
        if ((eventfds[i] = eventfd(0, 0)) < 0) return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int me = 0;
    pid_t kids[64];
    for (int i = 1; i < n; i++) { kids[i] = fork(); if (!kids[i]) { me = i; break; } }
    int next = (me + 1) % n;
    uint32_t *mine = &words[me * 16], *theirs = &words[next * 16];
    struct uring u;
    if (mode == 2 && uring_init(&u, uflags)) return 1;
    char token = 1;
    for (uint32_t lap = 1; lap <= (uint32_t)laps; lap++) {
        if (mode == 0) {
            if (me != 0 || lap > 1) if (read(pipes[me][0], &token, 1) != 1) return 1;
            if (write(pipes[next][1], &token, 1) != 1) return 1;
            continue;
        }
        if (mode == 3) {
            uint64_t count = 1;
            if (me != 0 || lap > 1) if (read(eventfds[me], &count, 8) != 8) return 1;
            count = 1;
            if (write(eventfds[next], &count, 8) != 8) return 1;
            continue;
        }
        /* Each stage's word holds the lap whose token it was last handed; stage 0 gets lap
         * L-1's token back from the last stage before it starts lap L. */
        if (me != 0 || lap > 1) {
            uint32_t want = me == 0 ? lap - 1 : lap;
            while (__atomic_load_n(mine, __ATOMIC_ACQUIRE) != want) {
                if (mode == 1) futex_wait(mine, want - 1);
                else {
                    push(&u, OP_FUTEX_WAIT, mine, want - 1, 0);
                    syscall(__NR_io_uring_enter, u.fd, 1, 1, IORING_ENTER_GETEVENTS, 0, 0);
                    reap(&u);
                }
            }
        }
        __atomic_store_n(theirs, lap, __ATOMIC_RELEASE);
        uint32_t want = me == 0 ? lap : lap + 1;
        if (me == n - 1 && lap == (uint32_t)laps) break;
        if (mode == 1) { futex_wake(theirs); continue; }
        /* Mode 2: the wake goes with the next wait in one enter (unless the token is back
         * already, or this is stage 0's last lap, which waits for nothing). */
        if (lap == (uint32_t)laps || __atomic_load_n(mine, __ATOMIC_ACQUIRE) == want) { futex_wake(theirs); continue; }
        push(&u, OP_FUTEX_WAKE, theirs, 1, IOSQE_CQE_SKIP_SUCCESS);
        push(&u, OP_FUTEX_WAIT, mine, want - 1, 0);
        syscall(__NR_io_uring_enter, u.fd, 2, 1, IORING_ENTER_GETEVENTS, 0, 0);
        reap(&u);
    }
    if (me) _exit(0);
    for (int i = 1; i < n; i++) waitpid(kids[i], 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    double cpu = seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(children.ru_utime) + seconds(children.ru_stime);
    double wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
    const char *names[] = {"pipe", "futex", "uring wake+wait", "eventfd"};
    printf("%s n=%d: %.2f us a lap (%.2f a hop), %.2f us CPU a lap; vcsw+ivcsw %ld\n", names[mode], n, wall / laps * 1e6,
           wall / laps / n * 1e6, cpu / laps * 1e6, self.ru_nvcsw + self.ru_nivcsw + children.ru_nvcsw + children.ru_nivcsw);
    return 0;
}
