// The JUnit writer: escaping (XML 1.0 cannot carry most control characters
// nor bytes that are not UTF-8), names, the document's shape, and that the
// schema in harness/test/data/junit.xsd accepts what we write and rejects a
// close malformed document (so that validating against it can fail).
#include "ipctorture/junit.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "ipctorture/errors.hpp"
#include "test_util.hpp"

using namespace ipct;
using ipct::test::slurp;
using ipct::test::TempDir;

namespace {

const std::string kXsd = std::string(IPCT_SOURCE_DIR) + "/harness/test/data/junit.xsd";

// xmllint's verdict on a document: 0 valid, else its exit status.
int xmllint(const std::string& doc, const TempDir& dir, std::string* out = nullptr) {
    const std::string f = dir.path + "/doc.xml", log = dir.path + "/xmllint.out";
    std::ofstream(f, std::ios::binary) << doc;
    const int st = std::system(
        ("xmllint --noout --schema '" + kXsd + "' '" + f + "' >'" + log + "' 2>&1").c_str());
    if (out) *out = slurp(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

ScenarioReport passing() {
    ScenarioReport r;
    r.file = "scenarios/smoke/pipe-one-to-one.yaml";
    r.name = "pipe-one-to-one";
    r.seed = 7;
    r.ran = true;
    r.outcome.wall_s = 1.25;
    r.reproduce = "ipctorture run scenarios/smoke/pipe-one-to-one.yaml --seed 7";
    return r;
}

ScenarioReport failing() {
    ScenarioReport r = passing();
    r.name = "fan-in[backend=tcp]";
    r.repetition = 2;
    CheckResult& res = r.outcome.result;
    for (int i = 0; i < 7; ++i) {
        Finding f;
        f.kind = FindingKind::kLost;
        f.summary = "message 0:" + std::to_string(i) + " was sent and never received";
        f.evidence.push_back(Evidence{0xffffffffu, Record{}});
        res.findings.push_back(f);
    }
    res.counts[int(FindingKind::kLost)] = 40;
    Finding d;
    d.kind = FindingKind::kDuplicated;
    d.summary = "message 1:3 received twice";
    res.findings.push_back(d);
    res.counts[int(FindingKind::kDuplicated)] = 1;
    return r;
}

TEST(JunitEscape, MarkupCharacters) {
    EXPECT_EQ(xml_text("a<b>&c\"d'e"), "a&lt;b&gt;&amp;c\"d'e");
    EXPECT_EQ(xml_attribute("a<b>&c\"d'e"), "a&lt;b&gt;&amp;c&quot;d&apos;e");
    EXPECT_EQ(xml_text("]]>"), "]]&gt;");
}

TEST(JunitEscape, WhitespaceSurvivesInTextAndAttributes) {
    EXPECT_EQ(xml_text("a\tb\nc\rd"), "a\tb\nc&#13;d");
    EXPECT_EQ(xml_attribute("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
}

TEST(JunitEscape, ForbiddenControlCharactersBecomeVisibleText) {
    EXPECT_EQ(xml_text(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(xml_text("\x1b[31mred\x1b[0m"), "\\x1B[31mred\\x1B[0m");
    EXPECT_EQ(xml_attribute("\x01\x08\x0b\x0c\x1f"), "\\x01\\x08\\x0B\\x0C\\x1F");
    EXPECT_EQ(xml_text("\xef\xbf\xbe\xef\xbf\xbf"), "\\u{FFFE}\\u{FFFF}");
}

TEST(JunitEscape, WellFormedUtf8IsKept) {
    const std::string s = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xee\x80\x80 \x7f";
    EXPECT_EQ(xml_text(s), s);
}

TEST(JunitEscape, BytesThatAreNotUtf8BecomeReplacementCharacters) {
    const std::string r = "\xef\xbf\xbd";
    EXPECT_EQ(xml_text("\xff"), r);
    EXPECT_EQ(xml_text("a\x80z"), "a" + r + "z");
    EXPECT_EQ(xml_text("\xc0\xaf"), r + r);                  // overlong '/'
    EXPECT_EQ(xml_text("\xe0\x80\xaf"), r + r + r);          // overlong, three bytes
    EXPECT_EQ(xml_text("\xed\xa0\x80"), r + r + r);          // a UTF-16 surrogate
    EXPECT_EQ(xml_text("\xf4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
    EXPECT_EQ(xml_text("\xe2\x82"), r + r);                  // cut short at the end
    EXPECT_EQ(xml_text("\xe2\x82z"), r + r + "z");           // cut short by an ASCII byte
}

TEST(JunitNames, ClassnameIsThePathWithDots) {
    EXPECT_EQ(junit_classname("scenarios/smoke/pipe-one-to-one.yaml"),
              "scenarios.smoke.pipe-one-to-one");
    EXPECT_EQ(junit_classname("./scenarios//zoo/x.yml"), "scenarios.zoo.x");
    EXPECT_EQ(junit_classname("/abs/dir/x.yaml"), "abs.dir.x");
}

TEST(JunitNames, NameCarriesCellAndRepetition) {
    ScenarioReport r = passing();
    EXPECT_EQ(junit_case_name(r), "pipe-one-to-one");
    r.name = "fan-in[backend=tcp]";
    r.repetition = 0;
    EXPECT_EQ(junit_case_name(r), "fan-in[backend=tcp] (repetition 1)");
}

TEST(JunitDocument, FailureSummarisesByKindAndListsCappedFindings) {
    const std::string x = junit_xml({passing(), failing()}, {}, "ipctorture run x", 5);
    EXPECT_NE(x.find("<testsuites name=\"ipctorture\" tests=\"2\" failures=\"1\" errors=\"0\""),
              std::string::npos)
        << x;
    EXPECT_NE(x.find("message=\"41 findings: 40 lost, 1 duplicated\" type=\"findings\""),
              std::string::npos)
        << x;
    EXPECT_NE(x.find("lost: message 0:4 was"), std::string::npos);
    EXPECT_EQ(x.find("lost: message 0:5 was"), std::string::npos) << "capped at 5 per kind";
    EXPECT_NE(x.find("... 35 more lost"), std::string::npos) << x;
    EXPECT_NE(x.find("evidence: orchestrator"), std::string::npos) << x;
    EXPECT_NE(x.find("name=\"fan-in[backend=tcp] (repetition 3)\""), std::string::npos);
    EXPECT_NE(x.find("<property name=\"seed\" value=\"7\"/>"), std::string::npos);
    TempDir d;
    std::string why;
    EXPECT_EQ(xmllint(x, d, &why), 0) << why << x;
}

TEST(JunitDocument, ErrorsInterruptionsAndSkippedCasesAreValid) {
    ScenarioReport err = passing();
    err.ran = false;
    err.error = "environment: cannot create /dev/mqueue/x: EMFILE";
    ScenarioReport intr = failing();
    intr.outcome.interrupted = true;
    intr.outcome.interrupt_signal = 15;
    const std::string x = junit_xml(
        {err, intr}, {{"scenarios/zoo/y.yaml", "y", "not run: an earlier run was interrupted"}},
        "ipctorture run scenarios");
    EXPECT_NE(x.find("type=\"harness\""), std::string::npos) << x;
    EXPECT_NE(x.find("message=\"interrupted by SIGTERM"), std::string::npos) << x;
    EXPECT_NE(x.find("<skipped message=\"not run"), std::string::npos) << x;
    EXPECT_NE(x.find("errors=\"2\" skipped=\"1\""), std::string::npos) << x;
    TempDir d;
    std::string why;
    EXPECT_EQ(xmllint(x, d, &why), 0) << why << x;
}

// Every byte value, in every place a run's text reaches: the document stays
// valid XML and valid against the schema.
TEST(JunitDocument, EveryByteInEvidenceAndCommandsGivesAValidDocument) {
    std::string all;
    for (int b = 0; b < 256; ++b) all += char(b);
    ScenarioReport r = failing();
    r.file = "scenarios/" + all + ".yaml";
    r.name = all;
    r.reproduce = "ipctorture run " + all;
    r.outcome.result.findings[0].summary = all;
    r.outcome.kept = true;
    r.outcome.run_dir = all;
    ScenarioReport e = passing();
    e.ran = false;
    e.error = all;
    const std::string x = junit_xml({r, e}, {{all, all, all}}, all);
    TempDir d;
    std::string why;
    EXPECT_EQ(xmllint(x, d, &why), 0) << why;
}

// The schema is not a rubber stamp: the same passing document with a raw
// control character, an unknown attribute, a missing name, a negative count
// or two outcomes in one testcase is refused.
TEST(JunitSchema, RejectsCloseMalformedDocuments) {
    const std::string good = junit_xml({passing(), failing()}, {}, "cmd");
    TempDir d;
    ASSERT_EQ(xmllint(good, d), 0);
    auto with = [&](const std::string& from, const std::string& to) {
        std::string x = good;
        const auto p = x.find(from);
        EXPECT_NE(p, std::string::npos) << from;
        return p == std::string::npos ? good : x.replace(p, from.size(), to);
    };
    EXPECT_NE(xmllint(with("seed: 7", std::string("seed: \x01") + "7"), d), 0);
    EXPECT_NE(xmllint(with("<testcase classname", "<testcase bogus=\"1\" classname"), d), 0);
    EXPECT_NE(xmllint(with(" name=\"pipe-one-to-one\"", ""), d), 0);
    EXPECT_NE(xmllint(with("tests=\"2\"", "tests=\"-2\""), d), 0);
    EXPECT_NE(xmllint(with("</failure>", "</failure><error message=\"x\"/>"), d), 0);
    EXPECT_NE(xmllint(with("<testsuites", "<testsuitez"), d), 0);
}

TEST(JunitFile, WrittenAtomicallyAndReplacesAnOldFile) {
    TempDir d;
    const std::string p = d.path + "/r.xml";
    std::ofstream(p) << "old";
    write_file_atomically(p, "new text");
    EXPECT_EQ(slurp(p), "new text");
    EXPECT_EQ(d.entries().size(), 1u) << "no temporary file is left";
}

TEST(JunitFile, UnwritablePathsThrowEnvironmentErrorAndLeaveNothing) {
    TempDir d;
    EXPECT_THROW(write_file_atomically(d.path + "/missing/r.xml", "x"), EnvironmentError);
    EXPECT_THROW(check_writable(d.path + "/missing/r.xml"), EnvironmentError);
    std::filesystem::create_directory(d.path + "/dir");
    EXPECT_THROW(write_file_atomically(d.path + "/dir", "x"), EnvironmentError);
    EXPECT_THROW(check_writable(d.path + "/dir"), EnvironmentError);
    EXPECT_EQ(d.entries().size(), 1u) << "only the directory made above";
    try {
        check_writable(d.path + "/missing/r.xml");
    } catch (const EnvironmentError& e) {
        EXPECT_NE(std::string(e.what()).find("missing/r.xml: No such file or directory"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
