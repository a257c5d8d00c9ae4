#include "server/config/conf_parser.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace herald {
namespace {

namespace fs = std::filesystem;

// Parses `text` and returns the tree's debug rendering, or "ERROR: msg".
std::string Parse(const std::string& text, ConfParseOptions options = {}) {
  options.use_environment = true;
  auto v = ParseConfString(text, "t.conf", options);
  if (!v.ok()) return absl::StrCat("ERROR: ", v.status().message());
  return v->DebugString();
}

std::string ParseError(const std::string& text) {
  auto v = ParseConfString(text, "t.conf");
  EXPECT_FALSE(v.ok()) << "parsed: " << v->DebugString();
  if (v.ok()) return "";
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(v.status().message());
}

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "conf_parser_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    fs::path p = fs::path(path_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ConfParser, KeySeparators) {
  EXPECT_EQ(Parse("a: 1\nb = 2\nc 3\nd:4\ne=5\n"), R"({"a":1,"b":2,"c":3,"d":4,"e":5})");
}

TEST(ConfParser, QuotedKeys) {
  EXPECT_EQ(Parse("\"a b\": 1\n'c:d' = 2\n\"\" 3\n"), R"({"a b":1,"c:d":2,"":3})");
}

TEST(ConfParser, ValueTerminators) {
  EXPECT_EQ(Parse("a: 1; b: 2, c: 3\n"), R"({"a":1,"b":2,"c":3})");
  EXPECT_EQ(Parse("a: x # comment\nb: y // comment\n"), R"({"a":"x","b":"y"})");
}

TEST(ConfParser, EmptyAndCommentOnlyInputs) {
  EXPECT_EQ(Parse(""), "{}");
  EXPECT_EQ(Parse("# only a comment"), "{}");
  EXPECT_EQ(Parse("// only a comment\n\n  \t\n"), "{}");
}

TEST(ConfParser, BracesAroundWholeFile) {
  EXPECT_EQ(Parse("{\n  a: 1\n  b: 2\n}\n"), R"({"a":1,"b":2})");
}

TEST(ConfParser, Blocks) {
  EXPECT_EQ(Parse("cluster {\n  port: 6222\n  name: c1\n}\n"),
            R"({"cluster":{"port":6222,"name":"c1"}})");
  EXPECT_EQ(Parse("cluster: {port: 6222, name: c1}"), R"({"cluster":{"port":6222,"name":"c1"}})");
  EXPECT_EQ(Parse("cluster = { port 6222; name c1 }"), R"({"cluster":{"port":6222,"name":"c1"}})");
  EXPECT_EQ(Parse("a { b { c { d: 1 } } }"), R"({"a":{"b":{"c":{"d":1}}}})");
  EXPECT_EQ(Parse("a {}\nb {\n}\n"), R"({"a":{},"b":{}})");
  // Inside a block the value may start on the next line.
  EXPECT_EQ(Parse("a {\n  b:\n    1\n}"), R"({"a":{"b":1}})");
}

TEST(ConfParser, Arrays) {
  EXPECT_EQ(Parse("a: [1, 2, 3]"), R"({"a":[1,2,3]})");
  EXPECT_EQ(Parse("a: [\n  x\n  y,\n  z\n]"), R"({"a":["x","y","z"]})");
  EXPECT_EQ(Parse("a: []"), R"({"a":[]})");
  EXPECT_EQ(Parse("a: [ [1, 2], [] ]"), R"({"a":[[1,2],[]]})");
  EXPECT_EQ(Parse("a: [\n # comment\n 1 # after\n 2 // after\n]"), R"({"a":[1,2]})");
  EXPECT_EQ(Parse("a [true, 'x', \"y\", 1.5]"), R"({"a":[true,"x","y",1.5]})");
}

TEST(ConfParser, MapsInArrays) {
  EXPECT_EQ(Parse("users = [\n  {user: a, password: p}\n  {user: b, password: q}\n]"),
            R"({"users":[{"user":"a","password":"p"},{"user":"b","password":"q"}]})");
}

TEST(ConfParser, DoubleQuotedStrings) {
  EXPECT_EQ(Parse(R"(a: "x y")"), R"({"a":"x y"})");
  EXPECT_EQ(Parse(R"(a: "t\tn\nr\rq\"b\\")"), R"({"a":"t\x09n\x0ar\x0dq\"b\\"})");
  EXPECT_EQ(Parse(R"(a: "\x41\x62")"), R"({"a":"Ab"})");
  EXPECT_EQ(Parse(R"(a: "")"), R"({"a":""})");
  // Inside quotes nothing is special: no comments, no variables.
  EXPECT_EQ(Parse(R"(a: "# $x // {}")"), R"({"a":"# $x // {}"})");
}

TEST(ConfParser, UnicodeEscapes) {
  EXPECT_EQ(Parse(R"(a: "\u0041\u00e9")"), R"({"a":"A\xc3\xa9"})");
  EXPECT_EQ(Parse(R"(a: "\u20ac")"), R"({"a":"\xe2\x82\xac"})");
  EXPECT_EQ(Parse(R"(a: "\ud83d\ude00")"), R"({"a":"\xf0\x9f\x98\x80"})");
  EXPECT_NE(ParseError(R"(a: "\u12")").find("four hexadecimal digits"), std::string::npos);
  EXPECT_NE(ParseError(R"(a: "\ud83d")").find("surrogate"), std::string::npos);
  EXPECT_NE(ParseError(R"(a: "\ude00")").find("surrogate"), std::string::npos);
}

TEST(ConfParser, BadEscape) {
  EXPECT_EQ(ParseError("a: 1\nb: \"\\q\""),
            "t.conf:2: Invalid escape character 'q'. Only the following escape characters are "
            "allowed: \\xXX, \\uXXXX, \\t, \\n, \\r, \\\", \\\\.");
  EXPECT_NE(ParseError(R"(a: "\xZZ")").find("hexadecimal"), std::string::npos);
}

TEST(ConfParser, SingleQuotedStringsAreRaw) {
  EXPECT_EQ(Parse(R"(a: 'c:\temp\n $x')"), R"({"a":"c:\\temp\\n $x"})");
}

TEST(ConfParser, BareStrings) {
  EXPECT_EQ(Parse("a: hello\nb: nats://127.0.0.1:4222\nc: /var/lib/x"),
            R"({"a":"hello","b":"nats://127.0.0.1:4222","c":"/var/lib/x"})");
  // Strings that start with a digit: durations, addresses.
  EXPECT_EQ(
      Parse("a: 10s\nb: 1h30m\nc: 127.0.0.1:4222\nd: 0.0.0.0\ne: 500ms\nf: 1m30s"),
      R"({"a":"10s","b":"1h30m","c":"127.0.0.1:4222","d":"0.0.0.0","e":"500ms","f":"1m30s"})");
  EXPECT_EQ(Parse("a: :4222"), R"({"a":":4222"})");
  EXPECT_EQ(Parse(R"(a: x\ty)"), R"({"a":"x\x09y"})");
}

TEST(ConfParser, MultiLineBlockString) {
  EXPECT_EQ(Parse("a: (\nline 1\n  line (2)\n)\nb: 1"),
            R"({"a":"\x0aline 1\x0a  line (2)\x0a","b":1})");
  EXPECT_NE(ParseError("a: (\nno end").find("Unexpected EOF processing block"), std::string::npos);
}

TEST(ConfParser, Integers) {
  EXPECT_EQ(Parse("a: 0\nb: 4222\nc: -17\nd: 9223372036854775807"),
            R"({"a":0,"b":4222,"c":-17,"d":9223372036854775807})");
  EXPECT_NE(ParseError("a: 9223372036854775808").find("out of the range"), std::string::npos);
}

TEST(ConfParser, SizeSuffixes) {
  // As nats-server's conf/parse.go: a bare letter is a power of 1000, with
  // "b" or "i"/"ib" a power of 1024; case does not matter.
  EXPECT_EQ(Parse("a: 1k\nb: 1K\nc: 1kb\nd: 1KB\ne: 1Ki\nf: 1KiB"),
            R"({"a":1000,"b":1000,"c":1024,"d":1024,"e":1024,"f":1024})");
  EXPECT_EQ(Parse("a: 2m\nb: 2MB\nc: 3g\nd: 3GB\ne: 1t\nf: 1TB"),
            R"({"a":2000000,"b":2097152,"c":3000000000,"d":3221225472,"e":1000000000000,)"
            R"("f":1099511627776})");
  EXPECT_EQ(Parse("a: 1p\nb: 1e\nc: 1EB"),
            R"({"a":1000000000000000,"b":1000000000000000000,"c":1152921504606846976})");
  EXPECT_EQ(Parse("a: -1k"), R"({"a":-1000})");
  EXPECT_EQ(Parse("a: [1k, 2kb]"), R"({"a":[1000,2048]})");
  EXPECT_NE(ParseError("a: 9EB").find("out of the range"), std::string::npos);
  EXPECT_NE(ParseError("a: 1kbb").find("invalid size suffix"), std::string::npos);
  auto v = ParseConfString("a: 64MB", "t.conf");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("a")->raw(), "64MB");
}

TEST(ConfParser, Floats) {
  EXPECT_EQ(Parse("a: 1.5\nb: -0.25\nc: 2.0"), R"({"a":1.5,"b":-0.25,"c":2})");
  EXPECT_NE(ParseError("a: .5").find("Floats must start with a digit"), std::string::npos);
  EXPECT_NE(ParseError("a: 1.").find("Floats must have a digit after the '.'"), std::string::npos);
  auto v = ParseConfString("a: 1.5", "t.conf");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Find("a")->is_float());
}

TEST(ConfParser, Booleans) {
  EXPECT_EQ(Parse("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: off"),
            R"({"a":true,"b":false,"c":true,"d":false,"e":true,"f":false})");
  // Quoted, they are strings.
  EXPECT_EQ(Parse("a: \"true\""), R"({"a":"true"})");
}

TEST(ConfParser, Datetime) {
  EXPECT_EQ(Parse("a: 2023-01-02T03:04:05Z"), R"({"a":"2023-01-02T03:04:05Z"})");
  EXPECT_NE(ParseError("a: 2023-01-02").find("ISO8601"), std::string::npos);
  EXPECT_NE(ParseError("a: 12-3").find("ISO8601"), std::string::npos);
}

TEST(ConfParser, DuplicateKeyReplaces) { EXPECT_EQ(Parse("a: 1\nb: 2\na: 3"), R"({"a":3,"b":2})"); }

TEST(ConfParser, PositionsRecordFileAndKeyLine) {
  auto v = ParseConfString("# c\n\nport: 4222\ncluster {\n  routes [\n    a\n    b\n  ]\n}\n",
                           "dir/x.conf");
  ASSERT_TRUE(v.ok()) << v.status();
  const ConfValue* port = v->Find("port");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->file(), "dir/x.conf");
  EXPECT_EQ(port->line(), 3);
  EXPECT_EQ(port->Where(), "dir/x.conf:3");
  const ConfValue* routes = v->Find("cluster")->Find("routes");
  EXPECT_EQ(routes->line(), 5);
  ASSERT_EQ(routes->items().size(), 2u);
  EXPECT_EQ(routes->items()[0].line(), 6);
  EXPECT_EQ(routes->items()[1].line(), 7);
}

TEST(ConfParser, VariablesFromSameAndEnclosingBlocks) {
  EXPECT_EQ(Parse("A: 1\nb: $A"), R"({"A":1,"b":1})");
  EXPECT_EQ(Parse("A: 1\nblk { c: $A }"), R"({"A":1,"blk":{"c":1}})");
  EXPECT_EQ(Parse("A: 1\nblk { A: 2, c: $A }\nd: $A"), R"({"A":1,"blk":{"A":2,"c":2},"d":1})");
  // Maps and arrays are copied.
  EXPECT_EQ(Parse("M: {x: 1}\nL: [1, 2]\na: $M\nb: $L\nc: [$M]"),
            R"({"M":{"x":1},"L":[1,2],"a":{"x":1},"b":[1,2],"c":[{"x":1}]})");
  auto v = ParseConfString("PASS: p\nauth { password: $PASS }\nUNUSED: 2", "t.conf");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Find("PASS")->used_as_variable());
  EXPECT_FALSE(v->Find("UNUSED")->used_as_variable());
  EXPECT_FALSE(v->Find("auth")->Find("password")->used_as_variable());
}

TEST(ConfParser, VariableDefinedLaterOrInSiblingIsNotFound) {
  EXPECT_EQ(ParseError("a: $LATER_XYZ\nLATER_XYZ: 1"),
            "t.conf:1: variable reference for 'LATER_XYZ' can not be found");
  EXPECT_NE(ParseError("x { V: 1 }\ny { a: $V }").find("can not be found"), std::string::npos);
}

TEST(ConfParser, VariablesFallBackToEnvironment) {
  setenv("HERALD_TEST_PORT", "4333", 1);
  setenv("HERALD_TEST_NAME", "my server", 1);
  setenv("HERALD_TEST_LIST", "[1, 2]", 1);
  setenv("HERALD_TEST_SELF", "$HERALD_TEST_SELF", 1);
  EXPECT_EQ(Parse("port: $HERALD_TEST_PORT"), R"({"port":4333})");
  EXPECT_EQ(Parse("a: $HERALD_TEST_LIST"), R"({"a":[1,2]})");
  // A value with a space is not one bare string; nats-server fails the same.
  EXPECT_NE(ParseError("name: $HERALD_TEST_NAME").find("could not be parsed"), std::string::npos);
  // A self-referencing environment variable ends with an error, not a crash.
  EXPECT_NE(ParseError("a: $HERALD_TEST_SELF").find("HERALD_TEST_SELF"), std::string::npos);
  // A key defined in the file wins over the environment.
  EXPECT_EQ(Parse("HERALD_TEST_PORT: 1\np: $HERALD_TEST_PORT"), R"({"HERALD_TEST_PORT":1,"p":1})");
  ConfParseOptions no_env;
  no_env.use_environment = false;
  EXPECT_FALSE(ParseConfString("port: $HERALD_TEST_PORT", "t.conf", no_env).ok());
}

TEST(ConfParser, BcryptHashIsNotAVariable) {
  EXPECT_EQ(Parse("password: $2a$11$abcdefghijklmnopqrstuv"),
            R"({"password":"$2a$11$abcdefghijklmnopqrstuv"})");
}

TEST(ConfParser, VariableExpansionIsBounded) {
  // "Billion laughs": each level multiplies the size by 10.
  std::string text = "L0: [1,2,3,4,5,6,7,8,9,10]\n";
  for (int i = 1; i < 9; ++i) {
    text += absl::StrCat("L", i, ": [");
    for (int j = 0; j < 10; ++j) text += absl::StrCat(j ? "," : "", "$L", i - 1);
    text += "]\n";
  }
  EXPECT_NE(ParseError(text).find("more than"), std::string::npos);
}

TEST(ConfParser, NestingDepthIsBounded) {
  std::string deep = "a: " + std::string(100, '[') + std::string(100, ']');
  EXPECT_NE(ParseError(deep).find("nest deeper than 64"), std::string::npos);
  std::string ok = "a: " + std::string(60, '[') + std::string(60, ']');
  EXPECT_TRUE(ParseConfString(ok, "t.conf").ok());
  std::string maps;
  for (int i = 0; i < 100; ++i) maps += "a {";
  EXPECT_NE(ParseError(maps).find("nest deeper"), std::string::npos);
}

TEST(ConfParser, NestingDepthCountsIncludesAndEnvironmentValues) {
  // 40 levels of blocks around an include (or env value) of 40 levels.
  std::string open, close;
  for (int i = 0; i < 40; ++i) {
    open += "a {";
    close += "}";
  }
  setenv("HERALD_TEST_DEEP", (std::string(40, '[') + std::string(40, ']')).c_str(), 1);
  EXPECT_NE(ParseError(open + " x: $HERALD_TEST_DEEP " + close).find("nest deeper than 64"),
            std::string::npos);
  TempDir dir;
  dir.Write("deep.conf", "x: " + std::string(40, '[') + std::string(40, ']') + "\n");
  std::string main = dir.Write("main.conf", open + "\ninclude deep.conf\n" + close + "\n");
  auto v = ParseConfFile(main);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nest deeper than 64"), std::string::npos);
}

TEST(ConfParser, ErrorsCarryFileAndLine) {
  EXPECT_EQ(ParseError("a: 1\nb: [1, 2\n"), "t.conf:3: Unexpected EOF processing array.");
  EXPECT_EQ(ParseError("a: 1\n\nb {\n  c: 1\n"), "t.conf:5: Unexpected EOF processing map.");
  EXPECT_EQ(ParseError("a: 1\nb: \"open\n"), "t.conf:2: Unexpected EOF in double-quoted string.");
  EXPECT_EQ(ParseError("a: 'open"), "t.conf:1: Unexpected EOF in single-quoted string.");
  EXPECT_EQ(ParseError("a: 1\nb: x y"),
            "t.conf:2: Expected a top-level value to end with a new line, comment or EOF, but "
            "got 'y' instead.");
  EXPECT_EQ(ParseError("a:\nb: 1"), "t.conf:1: Expected value but found new line");
  EXPECT_EQ(ParseError("a: [1 2]"),
            "t.conf:1: Expected an array value terminator ',' or an array terminator ']', but "
            "got '2' instead.");
  EXPECT_EQ(ParseError("a: [1,,2]"), "t.conf:1: Unexpected array value terminator ','.");
  EXPECT_EQ(ParseError("a { b: 1 c: 2 }"),
            "t.conf:1: Expected a map value terminator ',' or a map terminator '}', but got 'c' "
            "instead.");
  EXPECT_EQ(ParseError(": 1"), "t.conf:1: Unexpected key separator ':'.");
  EXPECT_EQ(ParseError("a { = 1 }"), "t.conf:1: Unexpected key separator '='.");
  EXPECT_EQ(ParseError("lonely"), "t.conf:1: key 'lonely' has no value");
  EXPECT_EQ(ParseError("a { b }"), "t.conf:1: key 'b' has no value");
  EXPECT_EQ(ParseError("a: -x"), "t.conf:1: Expected a digit but got 'x'.");
  EXPECT_EQ(ParseError("a { b: 1 ]"),
            "t.conf:1: Expected a map value terminator ',' or a map "
            "terminator '}', but got ']' instead.");
  EXPECT_EQ(ParseError("a: \"\\z\"").substr(0, 9), "t.conf:1:");
}

TEST(ConfParser, HostileBytesDoNotCrash) {
  const std::string samples[] = {std::string("\0\0\0", 3),
                                 "\xff\xfe{[",
                                 "a: \"\\",
                                 "a: \\",
                                 "{{{{",
                                 "}}}}",
                                 "]]]",
                                 "a: $",
                                 "include",
                                 "include ",
                                 "a: (",
                                 "'",
                                 "\"",
                                 "a: 1e",
                                 "a: 1.2.3.4.5.6",
                                 "a: -",
                                 "#\n#",
                                 "a:[{[{[{",
                                 "a: 99999999999999999999999kb",
                                 std::string("a: \"x\0y\"", 8),
                                 "\r\r\r",
                                 "a\rb",
                                 "a: 'x' 'y'",
                                 "a: [ 1, ]",
                                 "a:{b:{c:{}}}}",
                                 "a: $2a$",
                                 "$: 1"};
  for (const std::string& s : samples) {
    auto v = ParseConfString(s, "t.conf");  // must not crash; result either way
    if (!v.ok()) {
      EXPECT_EQ(v.status().message().substr(0, 7), "t.conf:") << s;
    }
  }
}

TEST(ConfParser, IncludeRelativeToIncludingFile) {
  TempDir dir;
  dir.Write("sub/inner.conf", "max_payload: 2MB\nnested { x: 1 }\n");
  dir.Write("sub/mid.conf", "include 'inner.conf'\nmid: true\n");
  std::string main = dir.Write(
      "main.conf", "a: 1\ninclude \"sub/mid.conf\"\nblk {\n  include sub/inner.conf\n}\n");
  auto v = ParseConfFile(main);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->DebugString(), R"({"a":1,"max_payload":2097152,"nested":{"x":1},"mid":true,)"
                              R"("blk":{"max_payload":2097152,"nested":{"x":1}}})");
  // Values keep the position of the file they were written in.
  EXPECT_NE(v->Find("max_payload")->file().find("inner.conf"), std::string::npos);
  EXPECT_EQ(v->Find("max_payload")->line(), 1);
  EXPECT_EQ(v->Find("a")->file(), main);
}

TEST(ConfParser, IncludedKeysAreVariables) {
  TempDir dir;
  dir.Write("vars.conf", "SECRET: s3\n");
  std::string main = dir.Write("main.conf", "include vars.conf\nauth { token: $SECRET }\n");
  auto v = ParseConfFile(main);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Find("auth")->Find("token")->str(), "s3");
}

TEST(ConfParser, IncludeErrors) {
  TempDir dir;
  std::string missing = dir.Write("missing.conf", "a: 1\ninclude nothere.conf\n");
  auto v = ParseConfFile(missing);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message().substr(0, missing.size() + 3), missing + ":2:");
  EXPECT_NE(v.status().message().find("nothere.conf"), std::string::npos);

  std::string bad_inc = dir.Write("bad_inc.conf", "x: 1\ny: [\n");
  std::string uses_bad = dir.Write("uses_bad.conf", "include bad_inc.conf\n");
  v = ParseConfFile(uses_bad);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), bad_inc + ":3: Unexpected EOF processing array.");

  std::string self = dir.Write("self.conf", "a: 1\ninclude self.conf\n");
  v = ParseConfFile(self);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("include cycle"), std::string::npos);

  dir.Write("ping.conf", "include pong.conf\n");
  std::string pong = dir.Write("pong.conf", "include ping.conf\n");
  v = ParseConfFile(pong);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("include cycle"), std::string::npos);

  std::string as_dir = dir.Write("as_dir.conf", "include sub\n");
  fs::create_directories(dir.path() + "/sub");
  v = ParseConfFile(as_dir);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("not a regular file"), std::string::npos);

  EXPECT_NE(ParseError("include [x]").find("Expected include value"), std::string::npos);
  EXPECT_NE(ParseError("include \"x").find("Unexpected EOF in quoted include"), std::string::npos);
}

TEST(ConfParser, IncludeFanOutIsBounded) {
  TempDir dir;
  // Each level includes the next twice: 2^12 reads without a bound.
  for (int i = 0; i < 12; ++i) {
    dir.Write(absl::StrCat("l", i, ".conf"),
              absl::StrCat("include l", i + 1, ".conf\ninclude l", i + 1, ".conf\n"));
  }
  dir.Write("l12.conf", "x: 1\n");
  ConfParseOptions o;
  o.max_include_depth = 20;
  auto v = ParseConfFile(dir.path() + "/l0.conf", o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("more than 256 configuration files"), std::string::npos);
}

TEST(ConfParser, IncludesCanBeDisabledOrConfined) {
  ConfParseOptions no_inc;
  no_inc.allow_includes = false;
  auto v = ParseConfString("include x.conf", "t.conf", no_inc);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "t.conf:1: include is not allowed here");

  TempDir dir;
  dir.Write("inside/ok.conf", "a: 1\n");
  dir.Write("outside.conf", "b: 2\n");
  ConfParseOptions confined;
  confined.include_root = dir.path() + "/inside";
  std::string main = dir.Write("inside/main.conf", "include ok.conf\n");
  EXPECT_TRUE(ParseConfFile(main, confined).ok());
  std::string escape = dir.Write("inside/escape.conf", "include ../outside.conf\n");
  v = ParseConfFile(escape, confined);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("outside"), std::string::npos);
}

TEST(ConfParser, MissingFile) {
  auto v = ParseConfFile("/nonexistent/herald.conf");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("/nonexistent/herald.conf"), std::string::npos);
}

TEST(ConfParser, OversizedInputIsRefused) {
  ConfParseOptions small;
  small.max_bytes = 10;
  EXPECT_FALSE(ParseConfString("a: 12345678901234567890", "t.conf", small).ok());
}

TEST(ConfParser, RealisticTestdataFilesParse) {
  for (const char* f : {"simple.conf", "cluster.conf", "variables.conf"}) {
    auto v = ParseConfFile(absl::StrCat("server/config/testdata/", f));
    EXPECT_TRUE(v.ok()) << f << ": " << v.status();
  }
}

}  // namespace
}  // namespace herald
