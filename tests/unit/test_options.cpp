// The shared option parser: config files, precedence, and errors that name the option or file.
#include "cli/options.hpp"
#include "common/error.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

namespace po = boost::program_options;

struct Fixture {
  int64_t epochs = 0;
  double lr = 0;
  std::string arch;
  bool shuffle = false, augment = true;
  po::options_description options{"options"};
  Fixture() {
    options.add_options()("epochs", po::value(&epochs)->default_value(10), "epochs")(
        "lr", po::value(&lr)->default_value(0.01), "learning rate")("arch", po::value(&arch), "architecture")(
        "pixel-shuffle", hpa::cli::flag(&shuffle), "a flag off by default")(
        "augment", hpa::cli::flag(&augment), "a flag on by default");
  }
  hpa::cli::ParseResult parse(std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return hpa::cli::parse(static_cast<int>(argv.size()), argv.data(), options,
                           po::positional_options_description());
  }
};

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(std::vector<std::string> args) {
  Fixture fixture;
  try {
    fixture.parse(std::move(args));
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

TEST(Options, DefaultsAndCommandLine) {
  Fixture fixture;
  fixture.parse({"--epochs", "3"});
  EXPECT_EQ(fixture.epochs, 3);
  EXPECT_DOUBLE_EQ(fixture.lr, 0.01);
}

TEST(Options, ConfigFileAndCommandLineWins) {
  const std::string config =
      write_temp("hpa_options_test.cfg", "# comment\nepochs = 7\nlr = 0.5\narch = vgg11\n");
  Fixture fixture;
  auto result = fixture.parse({"--config", config, "--lr", "0.1"});
  EXPECT_EQ(fixture.epochs, 7);
  EXPECT_DOUBLE_EQ(fixture.lr, 0.1);
  EXPECT_EQ(fixture.arch, "vgg11");
  const std::string resolved = hpa::cli::resolved_config(result.values);
  EXPECT_NE(resolved.find("epochs = 7\n"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("lr = 0.10000000000000001\n"), std::string::npos) << resolved;
  std::remove(config.c_str());
}

TEST(Options, ErrorsNameTheOptionOrFile) {
  EXPECT_NE(error_of({"--epoch", "3"}).find("--epoch"), std::string::npos);
  EXPECT_NE(error_of({"--epochs", "three"}).find("--epochs"), std::string::npos);
  EXPECT_NE(error_of({"--lr"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent/x.cfg"}).find("/nonexistent/x.cfg"), std::string::npos);
  const std::string bad_key = write_temp("hpa_options_bad_key.cfg", "epochz = 3\n");
  const std::string message = error_of({"--config", bad_key});
  EXPECT_NE(message.find(bad_key), std::string::npos) << message;
  EXPECT_NE(message.find("epochz"), std::string::npos) << message;
  const std::string bad_value = write_temp("hpa_options_bad_value.cfg", "lr = fast\n");
  EXPECT_NE(error_of({"--config", bad_value}).find("lr"), std::string::npos);
  const std::string garbage = write_temp("hpa_options_garbage.cfg", "this is not a config line\n");
  EXPECT_NE(error_of({"--config", garbage}).find(garbage), std::string::npos);
  std::remove(bad_key.c_str());
  std::remove(bad_value.c_str());
  std::remove(garbage.c_str());
}

TEST(Options, FlagsAloneOrWithAValue) {
  Fixture alone;
  alone.parse({"--pixel-shuffle", "--epochs", "3"});
  EXPECT_TRUE(alone.shuffle);
  EXPECT_EQ(alone.epochs, 3);
  for (const char* value : {"false", "no", "off", "0", "False"}) {
    Fixture separate, joined;
    separate.parse({"--augment", value, "--pixel-shuffle", "--lr", "0.5"});
    EXPECT_FALSE(separate.augment) << value;
    EXPECT_TRUE(separate.shuffle) << value;
    EXPECT_DOUBLE_EQ(separate.lr, 0.5);
    joined.parse({std::string("--augment=") + value});
    EXPECT_FALSE(joined.augment) << value;
  }
  Fixture last;
  last.parse({"--epochs", "2", "--pixel-shuffle"});  // a flag at the very end
  EXPECT_TRUE(last.shuffle);
  Fixture truthy;
  truthy.parse({"--pixel-shuffle", "yes"});
  EXPECT_TRUE(truthy.shuffle);
  // A config file: `name` alone is true, `name = value` as any option.
  const std::string config = write_temp("hpa_options_flags.cfg", "pixel-shuffle\naugment = false\n");
  Fixture from_file;
  from_file.parse({"--config", config});
  EXPECT_TRUE(from_file.shuffle);
  EXPECT_FALSE(from_file.augment);
  Fixture overridden;  // the command line wins
  overridden.parse({"--config", config, "--pixel-shuffle", "off"});
  EXPECT_FALSE(overridden.shuffle);
  std::remove(config.c_str());
}

TEST(Options, MalformedFlagValuesAreNamed) {
  const std::string stray = error_of({"--pixel-shuffle", "maybe"});
  EXPECT_NE(stray.find("unexpected argument 'maybe' after --pixel-shuffle"), std::string::npos) << stray;
  EXPECT_NE(error_of({"--pixel-shuffle=maybe"}).find("--pixel-shuffle"), std::string::npos);
  EXPECT_NE(error_of({"--epochs", "3", "extra"}).find("unexpected argument 'extra'"), std::string::npos);
  const std::string config = write_temp("hpa_options_bad_flag.cfg", "pixel-shuffle = perhaps\n");
  const std::string message = error_of({"--config", config});
  EXPECT_NE(message.find("pixel-shuffle"), std::string::npos) << message;
  EXPECT_NE(message.find(config), std::string::npos) << message;
  std::remove(config.c_str());
}

TEST(Options, HelpShortCircuits) {
  Fixture fixture;
  // A missing required-looking option does not matter once --help is given.
  const auto result = fixture.parse({"--help", "--epochs", "4"});
  EXPECT_TRUE(result.help_requested);
  const std::string config = write_temp("hpa_options_help.cfg", "nonsense = 1\n");
  Fixture second;
  EXPECT_TRUE(second.parse({"--help", "--config", config}).help_requested);  // config not read
  std::remove(config.c_str());
}

}  // namespace
