#pragma once

// Env bundles the seams code uses to touch the world (leveldb's Env): time, files, logging. One
// pointer is passed to constructors; only main() builds the real one, tests build theirs from
// fakes. The Env does not own what it points to.

namespace kdr {

class Clock;
class FileSystem;
class Logger;

struct Env {
  Clock* clock = nullptr;
  FileSystem* fs = nullptr;
  Logger* logger = nullptr;
};

}  // namespace kdr
