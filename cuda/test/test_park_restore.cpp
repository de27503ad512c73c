// Parking a sequence's KV in host memory and restoring it (into different pages) resumes it bit-exactly:
// the tokens equal an uninterrupted run, for greedy and for seeded top-p sampling.
#include <iostream>

#include "engine_harness.h"

using namespace tidepool;
using namespace tidepool::testing;

int main() {
  const std::string dir = make_temp_dir("park");
  write_synthetic_model(dir, SynthSpec{});
  const std::vector<int32_t> prompt = {5, 17, 200, 33, 8, 91, 12};
  const int max_tokens = 40;

  TokenLog baseline;
  {
    auto engine = make_engine(64);
    engine->install_model("m", load_model_dir(dir));
    engine->add(seq_spec(1, "m", prompt, max_tokens));
    engine->add(seq_spec(2, "m", prompt, max_tokens, 0.8f, 42));
    run_until_idle(*engine, "m", baseline);
  }

  TokenLog parked_run;
  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  engine->add(seq_spec(1, "m", prompt, max_tokens));
  engine->add(seq_spec(2, "m", prompt, max_tokens, 0.8f, 42));
  for (int i = 0; i < 9; i++) step_into(*engine, "m", parked_run);
  const std::vector<int32_t> pages_before = engine->find(1)->pages;
  KvMove p1 = engine->park(1), p2 = engine->park(2);
  CHECK(p1.bytes > 0 && p2.bytes > 0);
  CHECK(engine->scheduler().blocks().used_count() == 0);
  CHECK(engine->scheduler().counts("m").parked == 2);
  // Another sequence takes the freed pages, so the restored sequences land elsewhere in the pool.
  engine->add(seq_spec(3, "m", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 30));
  for (int i = 0; i < 5; i++) step_into(*engine, "m", parked_run);
  KvMove r2 = engine->restore(2), r1 = engine->restore(1);
  CHECK(r1.bytes == p1.bytes && r2.bytes == p2.bytes);
  CHECK(engine->find(1)->pages != pages_before);
  run_until_idle(*engine, "m", parked_run);
  std::string why;
  CHECK(engine->scheduler().blocks().check_integrity(&why));
  CHECK(engine->scheduler().blocks().used_count() == 0);
  CHECK(parked_run[1] == baseline[1]);
  CHECK(parked_run[2] == baseline[2]);
  CHECK(baseline[1] != baseline[2]);  // sampling really differs from greedy
  std::cout << "park/restore: 2 sequences parked after 9 tokens (" << p1.bytes << " + " << p2.bytes << " bytes, "
            << p1.ms << " ms), restored into new pages, " << parked_run[1].size()
            << " tokens each identical to the uninterrupted run\nPASS\n";
  return 0;
}
