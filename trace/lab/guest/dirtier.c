/*
 * dirtier: the guest workload of the migscope lab. It reproduces models/workloads/page-writes.ts bit for
 * bit (xor128 seeded with streamSeed(seed, stream)) so that a real guest writes the same pages, in the
 * same order, at the same rate as the simulated one; and it writes 4 KiB blocks to a disk at seeded
 * offsets (stream 2) like models/guest/disk.ts.
 *
 * Modes:
 *   dirtier -k KIND -p PAGES -w WSS_PAGES [-z S] [-e SEED] -P N     print the first N page indices
 *   dirtier -A ALLOC_MIB [-e SEED] -B N                             print the first N disk block indices
 *   dirtier -k KIND -p PAGES -w WSS_PAGES -r MIBPS [-z S] [-e SEED] [-d DEV -D MIBPS -A ALLOC_MIB] [-i SECS]
 *                                                                   run the workload (forever)
 * A page index is a guest page number as the simulator counts it (base = PAGES - WSS_PAGES, the working
 * set at the top of RAM); the real program writes page i at offset (i - base) * 4096 of an mmap'd buffer,
 * because a user process cannot choose physical pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 4096
#define PAGES_PER_MIB 256
#define DISK_WRITE_SIZE 4096
/* models/workloads/streams.ts */
#define STREAM_PAGE_WRITES 1
#define STREAM_DISK_WRITES 2
/* Sleeping less than this per wake-up costs more emulated CPU than the writes themselves under TCG. */
#define MIN_SLEEP_NS 1000000LL

/* sim/random.ts fmix32: the murmur3 finalizer. */
static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* sim/random.ts streamSeed: never 0, since xor128 would stay at 0 forever. */
static uint32_t stream_seed(uint32_t seed, uint32_t stream) {
  uint32_t h = fmix32(seed ^ ((stream + 1u) * 0x9e3779b1u));
  return h ? h : 1u;
}

/* seedrandom's xor128 (lib/xor128.js) with an integer seed: x = seed, then 64 values discarded. */
struct xor128 {
  uint32_t x, y, z, w;
};

static uint32_t xor128_next(struct xor128 *g) {
  uint32_t t = g->x ^ (g->x << 11);
  g->x = g->y;
  g->y = g->z;
  g->z = g->w;
  g->w ^= (g->w >> 19) ^ t ^ (t >> 8);
  return g->w;
}

static void xor128_init(struct xor128 *g, uint32_t seed) {
  g->x = seed;
  g->y = g->z = g->w = 0;
  for (int k = 0; k < 64; k++) xor128_next(g);
}

enum kind { K_IDLE, K_UNIFORM, K_ZIPF, K_SEQUENTIAL };

struct seq {
  enum kind kind;
  uint64_t base, wss, k;
  double *cdf;
  struct xor128 rng;
};

/* page-writes.ts zipfCdf: summed in rank order, then normalised, exactly as the TypeScript does. */
static double *zipf_cdf(uint64_t n, double s) {
  double *cdf = malloc(n * sizeof *cdf);
  if (!cdf) {
    perror("dirtier: malloc cdf");
    exit(1);
  }
  double sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    sum += pow((double)(i + 1), -s);
    cdf[i] = sum;
  }
  for (uint64_t i = 0; i < n; i++) cdf[i] /= sum;
  return cdf;
}

static uint64_t zipf_rank(const double *cdf, uint64_t n, double u) {
  uint64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    uint64_t mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* page-writes.ts pageWriteSequence().next() */
static uint64_t seq_next(struct seq *q) {
  switch (q->kind) {
  case K_UNIFORM:
    return q->base + xor128_next(&q->rng) % q->wss;
  case K_SEQUENTIAL:
    return q->base + (q->k++ % q->wss);
  case K_ZIPF:
    return q->base + zipf_rank(q->cdf, q->wss, xor128_next(&q->rng) / 4294967296.0);
  default:
    return q->base;
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
  struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Where the working set landed in guest-physical memory, read from /proc/self/pagemap (init runs as
   root): "LAB_WSS_PFN_RUNS pages=N runs=R pfn+count,..." in buffer order. The lab's layout probe
   (trace/lab/layout.ts) hands this to the simulator, whose RAM scan order depends on it. */
static void print_placement(const void *buf, uint64_t wss) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) {
    printf("LAB_WSS_PFN_RUNS unavailable: %s\n", strerror(errno));
    return;
  }
  uint64_t *pfn = malloc(wss * sizeof *pfn);
  if (!pfn) {
    close(fd);
    return;
  }
  uint64_t runs = 0;
  for (uint64_t i = 0; i < wss; i++) {
    uint64_t e = 0;
    off_t off = (off_t)(((uintptr_t)buf / PAGE_SIZE + i) * 8);
    if (pread(fd, &e, 8, off) != 8 || !(e >> 63)) e = 0;
    pfn[i] = e >> 63 ? e & ((1ULL << 55) - 1) : UINT64_MAX;
    if (i == 0 || pfn[i] != pfn[i - 1] + 1 || pfn[i] == UINT64_MAX) runs++;
  }
  close(fd);
  printf("LAB_WSS_PFN_RUNS pages=%llu runs=%llu ", (unsigned long long)wss, (unsigned long long)runs);
  for (uint64_t i = 0; i < wss;) {
    uint64_t j = i + 1;
    while (j < wss && pfn[i] != UINT64_MAX && pfn[j] == pfn[j - 1] + 1) j++;
    if (pfn[i] == UINT64_MAX) printf(i ? ",-" : "-");
    else printf(i ? ",%llu+%llu" : "%llu+%llu", (unsigned long long)pfn[i], (unsigned long long)(j - i));
    i = j;
  }
  printf("\n");
  fflush(stdout);
  free(pfn);
}

static enum kind parse_kind(const char *s) {
  if (!strcmp(s, "idle")) return K_IDLE;
  if (!strcmp(s, "uniform")) return K_UNIFORM;
  if (!strcmp(s, "zipf")) return K_ZIPF;
  if (!strcmp(s, "sequential")) return K_SEQUENTIAL;
  fprintf(stderr, "dirtier: unknown kind %s (idle|uniform|zipf|sequential)\n", s);
  exit(2);
}

static void usage(void) {
  fprintf(stderr, "usage: dirtier -k KIND -p PAGES -w WSS_PAGES [-r MIBPS] [-z S] [-e SEED] [-P N]\n"
                  "               [-d DEV -D MIBPS -A ALLOC_MIB] [-B N] [-i HEARTBEAT_S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  enum kind kind = K_IDLE;
  uint64_t pages = 0, wss = 0, print_pages = 0, print_blocks = 0;
  double rate = 0, zipf_s = 1.1, disk_rate = 0, alloc_mib = 0, heartbeat_s = 5;
  uint32_t seed = 1;
  const char *dev = NULL;
  int c;
  while ((c = getopt(argc, argv, "k:p:w:r:z:e:P:d:D:A:B:i:")) != -1) {
    switch (c) {
    case 'k': kind = parse_kind(optarg); break;
    case 'p': pages = strtoull(optarg, NULL, 10); break;
    case 'w': wss = strtoull(optarg, NULL, 10); break;
    case 'r': rate = strtod(optarg, NULL); break;
    case 'z': zipf_s = strtod(optarg, NULL); break;
    case 'e': seed = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'P': print_pages = strtoull(optarg, NULL, 10); break;
    case 'd': dev = optarg; break;
    case 'D': disk_rate = strtod(optarg, NULL); break;
    case 'A': alloc_mib = strtod(optarg, NULL); break;
    case 'B': print_blocks = strtoull(optarg, NULL, 10); break;
    case 'i': heartbeat_s = strtod(optarg, NULL); break;
    default: usage();
    }
  }
  /* Same clamp as pageWriteSequence: the working set never exceeds RAM; an empty one writes nothing. */
  if (wss > pages) wss = pages;
  if (wss == 0) kind = K_IDLE;
  struct seq q = {.kind = kind, .base = pages - wss, .wss = wss};
  xor128_init(&q.rng, stream_seed(seed, STREAM_PAGE_WRITES));
  if (kind == K_ZIPF) q.cdf = zipf_cdf(wss, zipf_s);
  /* disk.ts: allocatedBlocks = floor(allocatedMiB * 1 MiB / 4 KiB) */
  uint64_t alloc_blocks = (uint64_t)floor(alloc_mib * 1048576.0 / DISK_WRITE_SIZE);
  struct xor128 drng;
  xor128_init(&drng, stream_seed(seed, STREAM_DISK_WRITES));

  if (print_pages || print_blocks) {
    for (uint64_t i = 0; i < print_pages && kind != K_IDLE; i++) printf("%llu\n", (unsigned long long)seq_next(&q));
    for (uint64_t i = 0; i < print_blocks && alloc_blocks; i++)
      printf("%llu\n", (unsigned long long)(xor128_next(&drng) % alloc_blocks));
    return 0;
  }

  /* The working set counts as written before the migration (from-scenario.ts writtenBefore): touch every
     page with a non-zero word so none of them is a zero page, as the simulator assumes. */
  volatile uint64_t *buf = NULL;
  if (kind != K_IDLE) {
    buf = mmap(NULL, wss * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buf == MAP_FAILED) {
      perror("dirtier: mmap working set");
      return 1;
    }
    for (uint64_t i = 0; i < wss; i++) buf[i * (PAGE_SIZE / 8)] = i + 1;
    print_placement((const void *)buf, wss);
  }
  int fd = -1;
  void *block = NULL;
  double disk_interval = 0;
  if (dev && disk_rate > 0 && alloc_blocks > 0) {
    /* O_DIRECT so each write reaches the virtual disk now, as the simulator's disk writes do. */
    fd = open(dev, O_RDWR | O_DIRECT);
    if (fd < 0) fd = open(dev, O_RDWR | O_SYNC);
    if (fd < 0 || posix_memalign(&block, 4096, DISK_WRITE_SIZE)) {
      fprintf(stderr, "dirtier: cannot open %s: %s\n", dev, strerror(errno));
      return 1;
    }
    memset(block, 0xd1, DISK_WRITE_SIZE);
    disk_interval = 1e9 / (disk_rate * 1048576.0 / DISK_WRITE_SIZE);
  }
  double interval = kind != K_IDLE && rate > 0 ? 1e9 / (rate * PAGES_PER_MIB) : 0;

  int64_t t0 = now_ns();
  printf("LAB_WORKLOAD_START kind=%d wss_pages=%llu rate=%g disk_rate=%g\n", (int)kind, (unsigned long long)wss, rate,
         disk_rate);
  fflush(stdout);
  uint64_t k = 0, dk = 0, hb_k = 0;
  int64_t hb_next = t0 + (int64_t)(heartbeat_s * 1e9), hb_prev = t0;
  for (;;) {
    int64_t now = now_ns();
    int64_t next = hb_next;
    /* An absolute schedule (write k is due at t0 + k * interval), like write-schedule.ts, so stalls are
       caught up and the long-run rate is exact. */
    if (interval > 0) {
      while (t0 + (int64_t)floor(k * interval) <= now) {
        uint64_t p = seq_next(&q) - q.base;
        buf[p * (PAGE_SIZE / 8)] = ++k;
      }
      int64_t due = t0 + (int64_t)floor(k * interval);
      if (due < next) next = due;
    }
    if (fd >= 0) {
      while (t0 + (int64_t)floor(dk * disk_interval) <= now) {
        uint64_t b = xor128_next(&drng) % alloc_blocks;
        *(uint64_t *)block = ++dk;
        if (pwrite(fd, block, DISK_WRITE_SIZE, (off_t)(b * DISK_WRITE_SIZE)) != DISK_WRITE_SIZE) {
          fprintf(stderr, "dirtier: disk write at block %llu: %s\n", (unsigned long long)b, strerror(errno));
          return 1;
        }
      }
      int64_t due = t0 + (int64_t)floor(dk * disk_interval);
      if (due < next) next = due;
    }
    if (now >= hb_next) {
      double secs = (now - hb_prev) / 1e9;
      printf("LAB_HB writes=%llu disk_writes=%llu rate=%.1f\n", (unsigned long long)k, (unsigned long long)dk,
             (k - hb_k) / (double)PAGES_PER_MIB / secs);
      fflush(stdout);
      hb_k = k;
      hb_prev = now;
      hb_next += (int64_t)(heartbeat_s * 1e9);
      if (hb_next < next) next = hb_next;
    }
    if (next < now + MIN_SLEEP_NS) next = now + MIN_SLEEP_NS;
    sleep_until(next);
  }
}
