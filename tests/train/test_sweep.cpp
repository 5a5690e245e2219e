// `sparsecap sweep` below the command line: the method and sparsity lists, the cells and their
// configs, and a real sweep of tiny runs on a tiny synthetic set (rows from the finalized models,
// finished cells skipped, the tables).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "train/run_directory.h"
#include "train/sweep.h"
#include "tests/train/tiny_shapes_set.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(SweepMethods, ParsesMethodsWithAndWithoutScope) {
  const std::vector<SweepMethod> methods = parse_sweep_methods("supermask,hard:blind,gradual:uniform,snip,lottery");
  ASSERT_EQ(methods.size(), 5u);
  EXPECT_EQ(methods[0].method, "supermask");
  EXPECT_EQ(methods[0].scope, "");
  EXPECT_EQ(methods[0].label(), "supermask");
  EXPECT_EQ(methods[1].method, "hard");
  EXPECT_EQ(methods[1].scope, "blind");
  EXPECT_EQ(methods[1].label(), "hard:blind");
  EXPECT_EQ(methods[2].label(), "gradual:uniform");
  EXPECT_EQ(methods[4].method, "lottery");
}

TEST(SweepMethods, RejectsUnknownMethodsScopesDuplicatesAndEmptyEntries) {
  EXPECT_THROW(parse_sweep_methods("supermask,magic"), Error);
  EXPECT_THROW(parse_sweep_methods("none"), Error);
  EXPECT_THROW(parse_sweep_methods("hard:wide"), Error);
  EXPECT_THROW(parse_sweep_methods("snip,snip"), Error);
  EXPECT_THROW(parse_sweep_methods("snip,,hard"), Error);
  EXPECT_THROW(parse_sweep_methods("snip,"), Error);
  EXPECT_THROW(parse_sweep_methods(""), Error);
  // The same method with two scopes is two entries.
  EXPECT_EQ(parse_sweep_methods("hard:blind,hard:uniform").size(), 2u);
}

TEST(SweepMethods, TheMessageNamesTheBadEntry) {
  try {
    parse_sweep_methods("supermask,magic");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"magic\""), std::string::npos) << e.what();
  }
}

TEST(SweepMethods, PaperSetIsTheSupermaskPapersComparison) {
  EXPECT_EQ(sweep_method_set("paper"), "supermask,hard:blind,gradual,snip,lottery");
  EXPECT_THROW(sweep_method_set("everything"), Error);
}

TEST(SweepSparsities, ParsesStrictlyBetweenZeroAndOne) {
  const std::vector<double> sparsities = parse_sweep_sparsities("0.8,0.9,0.95,0.975,0.99");
  EXPECT_EQ(sparsities, (std::vector<double>{0.8, 0.9, 0.95, 0.975, 0.99}));
  EXPECT_THROW(parse_sweep_sparsities("0.9,1"), Error);
  EXPECT_THROW(parse_sweep_sparsities("0"), Error);
  EXPECT_THROW(parse_sweep_sparsities("-0.5"), Error);
  EXPECT_THROW(parse_sweep_sparsities("0.9x"), Error);
  EXPECT_THROW(parse_sweep_sparsities("ninety"), Error);
  EXPECT_THROW(parse_sweep_sparsities("0.9,0.9"), Error);
  EXPECT_THROW(parse_sweep_sparsities(""), Error);
}

TEST(SweepCells, DenseFirstThenEveryMethodAtEverySparsity) {
  SweepPlan plan;
  plan.out = "sweep";
  plan.methods = parse_sweep_methods("supermask,hard:blind");
  plan.sparsities = {0.9, 0.975};
  const std::vector<SweepCell> cells = sweep_cells(plan);
  ASSERT_EQ(cells.size(), 5u);
  EXPECT_EQ(cells[0].name, "dense");
  EXPECT_EQ(cells[0].method_label, "dense");
  EXPECT_EQ(cells[0].dir, fs::path("sweep") / "dense");
  EXPECT_EQ(cells[1].name, "supermask_0.9");
  EXPECT_EQ(cells[2].name, "supermask_0.975");
  EXPECT_EQ(cells[3].name, "hard-blind_0.9");
  EXPECT_EQ(cells[3].method_label, "hard:blind");
  EXPECT_DOUBLE_EQ(cells[4].target_sparsity, 0.975);
  EXPECT_EQ(cells[4].dir, fs::path("sweep") / "hard-blind_0.975");
  EXPECT_EQ(find_sweep_cell(plan, "hard-blind_0.9").method_label, "hard:blind");
  EXPECT_THROW(find_sweep_cell(plan, "snip_0.9"), Error);
}

TEST(SweepCells, PruningSectionPerMethod) {
  const nlohmann::json supermask_base = {{"method", "supermask"}, {"gate_init", 3.0}, {"sparsity_weight", 2000}};
  const nlohmann::json supermask = sweep_pruning_section(supermask_base, "supermask", "", 0.95, 1000);
  EXPECT_EQ(supermask["method"], "supermask");
  EXPECT_DOUBLE_EQ(supermask["gate_init"].get<double>(), 3.0);  // the base's own options stay
  EXPECT_DOUBLE_EQ(supermask["target_sparsity"].get<double>(), 0.95);
  EXPECT_NEAR(supermask["sparsity_weight"].get<double>(), 4000.0, 1e-9);  // 200 / (1 − 0.95)

  const nlohmann::json hard = sweep_pruning_section(supermask_base, "hard", "blind", 0.8, 1000);
  EXPECT_EQ(hard, (nlohmann::json{{"method", "hard"}, {"target_sparsity", 0.8}, {"scope", "blind"}}));

  const nlohmann::json gradual = sweep_pruning_section({{"method", "none"}}, "gradual", "", 0.9, 1000);
  EXPECT_EQ(gradual["start_step"], 100);
  EXPECT_EQ(gradual["update_every"], 10);
  EXPECT_DOUBLE_EQ(gradual["end_fraction"].get<double>(), 0.5);
  EXPECT_FALSE(sweep_pruning_section({}, "gradual", "", 0.9, 0).contains("start_step"));
}

// A sweep of real tiny runs: a tiny Soft-Attention captioner on a tiny synthetic set, 4 steps.
class TinySweep : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sparsecap_sweep_" + std::to_string(::getpid()));
    write_tiny_shapes_set(root_ / "shapes", 5);
    RunConfig config = tiny_soft_attention_config(root_ / "shapes");
    config.schedule.validate_every = 4;
    config.schedule.validation_images = 4;
    config.schedule.checkpoint_every = 4;
    config.schedule.histogram_every = 0;
    std::ofstream(root_ / "base.json") << nlohmann::json(config).dump(2);
    plan_.base_config = root_ / "base.json";
    plan_.methods = parse_sweep_methods("hard:blind,snip");
    plan_.sparsities = {0.75};
    plan_.out = root_ / "sweep";
    plan_.steps = 4;
    plan_.test_images = 4;
    plan_.beam_size = 2;
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  SweepPlan plan_;
};

TEST_F(TinySweep, CellConfigsReplaceThePruningSectionAndSetTheSteps) {
  plan_.overrides = {"optim.seed=7"};
  const RunConfig dense = sweep_cell_config(plan_, find_sweep_cell(plan_, "dense"));
  EXPECT_EQ(dense.pruning["method"], "none");
  EXPECT_EQ(dense.optim.max_steps, 4);
  EXPECT_EQ(dense.optim.seed, 7u);
  const RunConfig hard = sweep_cell_config(plan_, find_sweep_cell(plan_, "hard-blind_0.75"));
  EXPECT_EQ(hard.pruning["method"], "hard");
  EXPECT_EQ(hard.pruning["scope"], "blind");
  EXPECT_DOUBLE_EQ(hard.pruning["target_sparsity"].get<double>(), 0.75);
  EXPECT_EQ(hard.model["decoder"]["hidden_size"], 32);
  plan_.overrides = {"pruning.no_such_option=1"};
  EXPECT_THROW(sweep_cell_config(plan_, find_sweep_cell(plan_, "snip_0.75")), Error);
}

TEST_F(TinySweep, AFrozenEncoderWithoutWeightsGetsTheSweepsEncoder) {
  EXPECT_TRUE(sweep_cell_config(plan_, find_sweep_cell(plan_, "dense")).init.encoder_weights.empty());
  plan_.overrides = {"optim.freeze_encoder=true"};
  for (const SweepCell& cell : sweep_cells(plan_)) {
    SCOPED_TRACE(cell.name);
    EXPECT_EQ(sweep_cell_config(plan_, cell).init.encoder_weights, (plan_.out / "encoder.safetensors").string());
  }
  EXPECT_EQ(sweep_encoder_path(plan_), plan_.out / "encoder.safetensors");
  // A config that names its encoder keeps it.
  plan_.overrides.push_back("init.encoder_weights=/elsewhere/encoder.safetensors");
  EXPECT_EQ(sweep_cell_config(plan_, find_sweep_cell(plan_, "snip_0.75")).init.encoder_weights,
            "/elsewhere/encoder.safetensors");
}

TEST_F(TinySweep, RunsEveryCellWritesRowsAndTablesAndSkipsFinishedCells) {
  EXPECT_EQ(unfinished_sweep_cells(plan_).size(), 3u);
  for (const SweepCell& cell : unfinished_sweep_cells(plan_)) run_sweep_cell(plan_, cell);
  EXPECT_TRUE(unfinished_sweep_cells(plan_).empty());

  const std::vector<SweepRow> rows = read_sweep_rows(plan_);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].method, "dense");
  EXPECT_EQ(rows[1].method, "hard:blind");
  EXPECT_EQ(rows[2].method, "snip");
  const int64_t total = rows[0].nnz;  // dense: every prunable weight is non-zero
  EXPECT_LT(rows[0].sparsity, 1e-3);
  for (size_t i = 1; i < rows.size(); ++i) {
    SCOPED_TRACE(rows[i].method);
    EXPECT_DOUBLE_EQ(rows[i].target_sparsity, 0.75);
    EXPECT_NEAR(rows[i].sparsity, 0.75, 1e-3);
    EXPECT_NEAR(static_cast<double>(rows[i].nnz), 0.25 * static_cast<double>(total), 1e-3 * static_cast<double>(total));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const SweepCell cell = sweep_cells(plan_)[i];
    SCOPED_TRACE(cell.name);
    const fs::path file = cell.dir / (i == 0 ? "model.dense-f32.safetensors" : "model.csr-f32.safetensors");
    EXPECT_EQ(rows[i].file_bytes, fs::file_size(file));
    EXPECT_GT(rows[i].training_seconds, 0);
    EXPECT_GE(rows[i].cider_d, 0);
    EXPECT_LE(rows[i].bleu4, 1);
    EXPECT_GE(rows[i].average_length, 0);
    EXPECT_GT(rows[i].percent_unique, 0);
    EXPECT_LE(rows[i].percent_unique, 100);
    // The tiny set has scene files: the row carries the model's grounded scores of its result file.
    const nlohmann::json grounded = read_json(sweep_result_path(cell)).at("evaluation").at("grounded");
    ASSERT_TRUE(rows[i].color_shape_precision.has_value());
    ASSERT_TRUE(rows[i].color_shape_recall.has_value());
    ASSERT_TRUE(rows[i].shape_recall.has_value());
    EXPECT_DOUBLE_EQ(*rows[i].color_shape_precision, grounded.at("color_shape").at("precision").get<double>());
    EXPECT_DOUBLE_EQ(*rows[i].color_shape_recall, grounded.at("color_shape").at("recall").get<double>());
    EXPECT_DOUBLE_EQ(*rows[i].shape_recall, grounded.at("shape").at("recall").get<double>());
  }
  // A result written before the grounded columns existed gets them from its stored evaluation.
  {
    const fs::path result_file = sweep_result_path(sweep_cells(plan_)[2]);
    nlohmann::json result = read_json(result_file);
    for (const char* key : {"color_shape_precision", "color_shape_recall", "shape_recall"}) result["row"].erase(key);
    std::ofstream(result_file) << result.dump();
    const SweepRow reread = read_sweep_rows(plan_)[2];
    EXPECT_EQ(reread.color_shape_precision, rows[2].color_shape_precision);
    EXPECT_EQ(reread.color_shape_recall, rows[2].color_shape_recall);
    EXPECT_EQ(reread.shape_recall, rows[2].shape_recall);
  }
  // A 75% sparse CSR file is smaller than the dense float32 one.
  EXPECT_LT(rows[1].file_bytes, rows[0].file_bytes);

  write_sweep_tables(plan_, rows);
  std::ifstream csv(plan_.out / "table.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "method,target,sparsity %,NNZ,file MB,BLEU-4,METEOR,ROUGE-L,CIDEr-D,% unique,avg length,training s,"
            "colour+shape P %,colour+shape R %,shape R %");
  EXPECT_EQ(lines[2].substr(0, lines[2].find(',', lines[2].find(',') + 1)), "hard:blind,0.75");
  EXPECT_NE(lines[2].find("," + std::to_string(rows[1].nnz) + ","), std::string::npos);
  std::ifstream markdown(plan_.out / "table.md");
  std::stringstream text;
  text << markdown.rdbuf();
  EXPECT_EQ(text.str().substr(0, text.str().find('\n')),
            "| method | target | sparsity % | NNZ | file MB | BLEU-4 | METEOR | ROUGE-L | CIDEr-D | % unique | avg length | "
            "training s | colour+shape P % | colour+shape R % | shape R % |");
  EXPECT_NE(text.str().find("| snip | 0.75 | "), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(" | " + std::to_string(rows[2].nnz) + " | "), std::string::npos) << text.str();

  // A cell whose run is finished is evaluated again without training: its checkpoint and its
  // training time stay as they were.
  const SweepCell hard = find_sweep_cell(plan_, "hard-blind_0.75");
  const auto checkpoint_time = fs::last_write_time(RunDirectory{hard.dir}.final_checkpoint());
  fs::remove(sweep_result_path(hard));
  ASSERT_EQ(unfinished_sweep_cells(plan_).size(), 1u);
  EXPECT_EQ(unfinished_sweep_cells(plan_).front().name, "hard-blind_0.75");
  const SweepRow again = run_sweep_cell(plan_, hard);
  EXPECT_EQ(fs::last_write_time(RunDirectory{hard.dir}.final_checkpoint()), checkpoint_time);
  EXPECT_DOUBLE_EQ(again.training_seconds, rows[1].training_seconds);
  EXPECT_EQ(again.nnz, rows[1].nnz);
  EXPECT_DOUBLE_EQ(again.cider_d, rows[1].cider_d);
}

TEST(SweepRows, JsonRoundTrip) {
  SweepRow row;
  row.method = "lottery";
  row.target_sparsity = 0.99;
  row.sparsity = 0.9899;
  row.nnz = 1234;
  row.file_bytes = 56789;
  row.bleu4 = 0.1;
  row.meteor = 0.2;
  row.rouge_l = 0.3;
  row.cider_d = 0.4;
  row.percent_unique = 12.5;
  row.average_length = 8.25;
  row.training_seconds = 61;
  const SweepRow back = nlohmann::json(row).get<SweepRow>();
  EXPECT_EQ(back.method, "lottery");
  EXPECT_EQ(back.nnz, 1234);
  EXPECT_EQ(back.file_bytes, 56789u);
  EXPECT_DOUBLE_EQ(back.cider_d, 0.4);
  EXPECT_DOUBLE_EQ(back.training_seconds, 61);
  EXPECT_FALSE(back.color_shape_precision.has_value());
  EXPECT_FALSE(back.shape_recall.has_value());
  // Without grounded scores in any row, the tables have no grounded columns.
  EXPECT_EQ(format_sweep_table_csv({row}),
            "method,target,sparsity %,NNZ,file MB,BLEU-4,METEOR,ROUGE-L,CIDEr-D,% unique,avg length,training s\n"
            "lottery,0.99,98.99,1234,0.057,0.1000,0.2000,0.3000,0.4000,12.5,8.25,61\n");

  SweepRow grounded = row;
  grounded.color_shape_precision = 0.8125;
  grounded.color_shape_recall = 0.25;
  grounded.shape_recall = 0.5;
  const SweepRow grounded_back = nlohmann::json(grounded).get<SweepRow>();
  EXPECT_DOUBLE_EQ(grounded_back.color_shape_precision.value_or(-1), 0.8125);
  EXPECT_DOUBLE_EQ(grounded_back.color_shape_recall.value_or(-1), 0.25);
  EXPECT_DOUBLE_EQ(grounded_back.shape_recall.value_or(-1), 0.5);
  // With them in one row, every row gets the columns, "-" where it has none.
  EXPECT_EQ(format_sweep_table_csv({grounded, row}),
            "method,target,sparsity %,NNZ,file MB,BLEU-4,METEOR,ROUGE-L,CIDEr-D,% unique,avg length,training s,"
            "colour+shape P %,colour+shape R %,shape R %\n"
            "lottery,0.99,98.99,1234,0.057,0.1000,0.2000,0.3000,0.4000,12.5,8.25,61,81.2,25.0,50.0\n"
            "lottery,0.99,98.99,1234,0.057,0.1000,0.2000,0.3000,0.4000,12.5,8.25,61,-,-,-\n");
}

}  // namespace
}  // namespace sparsecap::train
