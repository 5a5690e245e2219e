// The paraphrase table's reader and index: lookups, both directions, gzip and plain files, and
// errors that name the file and line.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "eval/meteor_paraphrase_table.h"

namespace sparsecap::eval {
namespace {

constexpr const char* kTriples =
    "0.015\n000\n00\n"
    "0.09\n000 deaths\n000 dead\n"
    "0.01\n000 deaths\n000 fatalities\n"
    "0.03\nside by side\ntogether\n";

std::filesystem::path temp_file(const std::string& name) { return std::filesystem::temp_directory_path() / name; }

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "(no exception)";
}

TEST(MeteorParaphraseTable, IndexesPhrasesAndPairs) {
  const MeteorParaphraseTable table = MeteorParaphraseTable::from_text(kTriples);
  EXPECT_EQ(table.phrase_count(), 7u);
  EXPECT_EQ(table.pair_count(), 4u);
  EXPECT_EQ(table.longest_phrase_words(), 3);
  const auto deaths = table.find("000 deaths");
  const auto dead = table.find("000 dead");
  const auto fatalities = table.find("000 fatalities");
  ASSERT_NE(deaths, MeteorParaphraseTable::kNotAPhrase);
  EXPECT_EQ(table.phrase_text(deaths), "000 deaths");
  EXPECT_TRUE(table.lists(deaths, dead));
  EXPECT_TRUE(table.lists(deaths, fatalities));
  EXPECT_FALSE(table.lists(dead, deaths));  // one direction, as in the file
  EXPECT_EQ(table.paraphrases_of(deaths).size(), 2u);
  EXPECT_EQ(table.find("000  deaths"), MeteorParaphraseTable::kNotAPhrase);
  EXPECT_EQ(table.find("deaths"), MeteorParaphraseTable::kNotAPhrase);
  EXPECT_TRUE(table.lists(table.find("side by side"), table.find("together")));
}

TEST(MeteorParaphraseTable, ManyPhrasesSurviveTheIndexGrowing) {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "0.5\nword" + std::to_string(i) + "\nother" + std::to_string(i) + "\n";
  const MeteorParaphraseTable table = MeteorParaphraseTable::from_text(text);
  EXPECT_EQ(table.phrase_count(), 100000u);
  for (int i = 0; i < 50000; i += 997) {
    EXPECT_TRUE(table.lists(table.find("word" + std::to_string(i)), table.find("other" + std::to_string(i)))) << i;
  }
}

TEST(MeteorParaphraseTable, ReadsGzipAndPlainFiles) {
  const std::filesystem::path gz = temp_file("sparsecap_paraphrase_test.gz");
  {
    gzFile out = gzopen(gz.string().c_str(), "wb");
    ASSERT_NE(out, nullptr);
    gzputs(out, kTriples);
    gzclose(out);
  }
  EXPECT_EQ(MeteorParaphraseTable::load(gz, std::nullopt).pair_count(), 4u);
  const std::filesystem::path plain = temp_file("sparsecap_paraphrase_test.txt");
  std::ofstream(plain) << kTriples;
  EXPECT_EQ(MeteorParaphraseTable::load(plain, std::nullopt).pair_count(), 4u);
}

TEST(MeteorParaphraseTable, ErrorsNameTheFileAndLine) {
  EXPECT_NE(message_of([] { MeteorParaphraseTable::load("/nonexistent/paraphrase-en.gz", std::nullopt); })
                .find("/nonexistent/paraphrase-en.gz"),
            std::string::npos);
  EXPECT_NE(message_of([] { MeteorParaphraseTable::from_text("0.5\na\nb\nnot a number\nc\nd\n", "t.txt"); })
                .find("t.txt: expected a probability at line 4"),
            std::string::npos);
  EXPECT_NE(message_of([] { MeteorParaphraseTable::from_text("0.5\na\nb\n0.5\nc\n", "t.txt"); })
                .find("t.txt: the file ends inside a triple"),
            std::string::npos);
  EXPECT_NE(message_of([] { MeteorParaphraseTable::from_text("0.5\n\nb\n", "t.txt"); })
                .find("expected a phrase at line 2"),
            std::string::npos);

  // A gzip file cut short: zlib reports the truncation, and the message names the file.
  const std::filesystem::path whole = temp_file("sparsecap_paraphrase_whole.gz");
  {
    gzFile out = gzopen(whole.string().c_str(), "wb");
    ASSERT_NE(out, nullptr);
    for (int i = 0; i < 2000; ++i) gzputs(out, kTriples);
    gzclose(out);
  }
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::filesystem::path cut = temp_file("sparsecap_paraphrase_cut.gz");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string message = message_of([&] { MeteorParaphraseTable::load(cut, std::nullopt); });
  EXPECT_NE(message.find(cut.string()), std::string::npos) << message;
}

TEST(MeteorParaphraseTable, CachedIndexIsMappedAndRebuiltWhenTheTableChanges) {
  const std::filesystem::path directory = temp_file("sparsecap_paraphrase_index_test");
  std::filesystem::remove_all(directory);
  const std::filesystem::path source = temp_file("sparsecap_paraphrase_indexed.txt");
  std::ofstream(source) << kTriples;

  const MeteorParaphraseTable parsed = MeteorParaphraseTable::load(source, directory);
  EXPECT_FALSE(parsed.loaded_from_index());
  const MeteorParaphraseTable mapped = MeteorParaphraseTable::load(source, directory);
  ASSERT_TRUE(mapped.loaded_from_index());
  EXPECT_EQ(mapped.phrase_count(), parsed.phrase_count());
  EXPECT_EQ(mapped.pair_count(), parsed.pair_count());
  EXPECT_EQ(mapped.longest_phrase_words(), 3);
  EXPECT_TRUE(mapped.lists(mapped.find("000 deaths"), mapped.find("000 fatalities")));
  EXPECT_EQ(mapped.phrase_text(mapped.find("side by side")), "side by side");
  EXPECT_EQ(mapped.find("no such phrase"), MeteorParaphraseTable::kNotAPhrase);

  // A changed table (other size) makes the index stale: it is parsed and indexed again.
  std::ofstream(source, std::ios::app) << "0.2\ncat\nkitten\n";
  const MeteorParaphraseTable reparsed = MeteorParaphraseTable::load(source, directory);
  EXPECT_FALSE(reparsed.loaded_from_index());
  EXPECT_EQ(reparsed.pair_count(), 5u);
  EXPECT_TRUE(MeteorParaphraseTable::load(source, directory).loaded_from_index());

  // A damaged index is not trusted either.
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    std::filesystem::resize_file(entry.path(), std::filesystem::file_size(entry.path()) / 2);
  }
  const MeteorParaphraseTable after_damage = MeteorParaphraseTable::load(source, directory);
  EXPECT_FALSE(after_damage.loaded_from_index());
  EXPECT_EQ(after_damage.pair_count(), 5u);
}

}  // namespace
}  // namespace sparsecap::eval
