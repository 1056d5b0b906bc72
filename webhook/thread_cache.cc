// The webhook's global operator new/delete (this binary only): a per-thread cache of small blocks in
// front of malloc.
//
// Why: each admission request builds and frees a JSON tree of hundreds of same-size nodes. glibc's
// own per-thread cache keeps only 7 free chunks per size, so most frees fall through to the
// locked arena and the next request pays malloc_consolidate: measured, 20% more CPU per validate
// request and 40% more per mutate request (BENCHMARKS.md, webhook). glibc can raise that count
// only through GLIBC_TUNABLES at process start, which this replaces (no environment, no
// re-executing itself).
//
// kMaxBytesPerThread must hold what one request frees (~150 KiB for the benchmark's 12 KB Ingress):
// at 128 KiB the mutate benchmark's CPU per request nearly tripled, the overflow meeting the other
// worker in the single arena. The cache holds only what was freed and not yet reused, so a larger
// bound costs little memory.
//
// Blocks are malloc's own chunks: the cache keeps up to kMaxBytesPerThread of freed blocks of at
// most kMaxBlock bytes per thread, in classes of malloc's chunk sizes, and hands them back to
// operator new of the same class; anything else goes straight to malloc/free. A block may be
// freed on another thread than the one that allocated it (it is a malloc chunk either way). A
// thread's cache is returned to malloc when the thread ends; frees after that go to free().
// The aligned forms (align_val_t) are left to the C++ runtime, which pairs them with free().
//
// Sanitized builds (scripts/test --sanitize) leave the cache out and keep the sanitizer's own
// operator new/delete. The classes assume glibc's chunk rounding, which ASan's allocator does not
// do: there a 32-byte block freed by a sized delete was filed under glibc's 48-byte chunk and
// handed to a longer string, a heap-buffer-overflow at the webhook's start. And a block reused
// from the cache is one ASan cannot quarantine nor TSan follow, so a use after free, a double free
// or a race on reused memory would go unseen.

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KDR_THREAD_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KDR_THREAD_CACHE 0
#endif
#endif
#ifndef KDR_THREAD_CACHE
#define KDR_THREAD_CACHE 1
#endif

#if KDR_THREAD_CACHE
#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

constexpr size_t kChunkAlign = 16;              // glibc chunk sizes are multiples of this,
constexpr size_t kChunkHeader = sizeof(size_t);  // each with one size word before the block
constexpr size_t kMaxBlock = 1024 - kChunkHeader;
constexpr size_t kClasses = (kMaxBlock + kChunkHeader) / kChunkAlign + 1;
constexpr size_t kMaxBytesPerThread = 512 << 10;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially constructed and destroyed, so reading it is a plain thread-local access.
struct Cache {
  FreeBlock* heads[kClasses];
  size_t bytes;
  bool flusher_armed;
  bool thread_ending;
};
thread_local Cache cache{};

void FlushCache() {
  cache.thread_ending = true;
  for (FreeBlock*& head : cache.heads) {
    while (head != nullptr) {
      FreeBlock* b = head;
      head = b->next;
      std::free(b);
    }
  }
  cache.bytes = 0;
}

// Constructed on a thread's first cached free, so its destructor runs when that thread ends.
struct Flusher {
  Flusher() {}
  ~Flusher() { FlushCache(); }
  void Arm() {}
};
thread_local Flusher flusher;

// The class of malloc's chunk for an n-byte request: a block of class c holds at least
// c * kChunkAlign - kChunkHeader bytes, whoever allocated it.
size_t ClassOfRequest(size_t n) {
  size_t chunk = (n + kChunkHeader + kChunkAlign - 1) & ~(kChunkAlign - 1);
  return (chunk < 2 * kChunkAlign ? 2 * kChunkAlign : chunk) / kChunkAlign;
}

void* Allocate(size_t n) {
  if (n <= kMaxBlock) {
    const size_t c = ClassOfRequest(n);
    if (FreeBlock* b = cache.heads[c]) {
      cache.heads[c] = b->next;
      cache.bytes -= c * kChunkAlign;
      return b;
    }
  }
  for (;;) {
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) return nullptr;
    handler();
  }
}

// c: the block's class, from its usable size (never more than it holds).
void Release(void* p, size_t c) {
  if (c < kClasses && !cache.thread_ending &&
      cache.bytes + c * kChunkAlign <= kMaxBytesPerThread) {
    if (!cache.flusher_armed) {
      cache.flusher_armed = true;
      flusher.Arm();
    }
    auto* b = static_cast<FreeBlock*>(p);
    b->next = cache.heads[c];
    cache.heads[c] = b;
    cache.bytes += c * kChunkAlign;
    return;
  }
  std::free(p);
}

void Release(void* p) {
  if (p == nullptr) return;
  Release(p, (malloc_usable_size(p) + kChunkHeader) / kChunkAlign);
}

void ReleaseSized(void* p, size_t n) {
  if (p == nullptr) return;
  // The chunk may be larger than the request's class (malloc rounds up); the smaller class is
  // still one the block can serve.
  Release(p, n <= kMaxBlock ? ClassOfRequest(n) : kClasses);
}

void* AllocateOrThrow(size_t n) {
  void* p = Allocate(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return AllocateOrThrow(n); }
void* operator new[](size_t n) { return AllocateOrThrow(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t n) noexcept { ReleaseSized(p, n); }
void operator delete[](void* p, size_t n) noexcept { ReleaseSized(p, n); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }

#endif  // KDR_THREAD_CACHE
