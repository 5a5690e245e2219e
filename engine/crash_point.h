#pragma once
// Named points where a test can make the process die as a power cut or `kill -9` would: with
// SPARSECAP_CRASH_AT=<point>:<n> in the environment, the n-th time (from 1) the process reaches
// crash_point("<point>") it sends itself SIGKILL, so no destructor, atexit handler or flush runs.
// Without the variable a crash point costs one comparison. The kill/resume test
// (tests/reliability/kill_resume.py) uses the points "step" (after backward, before the optimizer
// step), "checkpoint-write" (a checkpoint's temp file half written) and "validation" (captions
// decoded, record not yet written).
namespace sparsecap {

void crash_point(const char* point);

}  // namespace sparsecap
