// metrics.csv and curves.svg from a history.
#include <regex>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;

namespace {

std::vector<EpochMetrics> history() {
  return {{1, 2.3125, 0.1, 0.25, 1234.56, 0.5, 0.9, 10.25},
          {2, 1.5, 0.5, 0.625, 2000.0, 0.25, 0.45, 9.5},
          {3, 0.75, 0.75, 0.8125, 2100.0, 0.125, 0.225, 9.0}};
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Checks that every element is closed in order (a well-formed XML skeleton) and returns the
// number of elements.
int check_xml_nesting(const std::string& svg) {
  std::vector<std::string> open;
  int elements = 0;
  const std::regex tag(R"(<(/?)([a-zA-Z][\w:-]*)[^>]*?(/?)>)");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[1] == "/") {
      EXPECT_FALSE(open.empty()) << "closing </" << m[2] << "> without an open element";
      if (open.empty()) return elements;
      EXPECT_EQ(open.back(), m[2].str());
      open.pop_back();
    } else {
      ++elements;
      if (m[3] != "/") open.push_back(m[2]);
    }
  }
  EXPECT_TRUE(open.empty()) << "unclosed <" << (open.empty() ? "" : open.back()) << ">";
  return elements;
}

}  // namespace

TEST(Report, MetricsCsvHasAHeaderAndOneRowPerEpoch) {
  EXPECT_EQ(metrics_csv(history()),
            "epoch,loss,train_acc,test_acc,examples_per_sec,data_wait_sec,lr,seconds\n"
            "1,2.3125,0.1,0.25,1234.6,0.500,0.9,10.250\n"
            "2,1.5,0.5,0.625,2000.0,0.250,0.45,9.500\n"
            "3,0.75,0.75,0.8125,2100.0,0.125,0.225,9.000\n");
  EXPECT_EQ(metrics_csv({}), "epoch,loss,train_acc,test_acc,examples_per_sec,data_wait_sec,lr,seconds\n");
}

TEST(Report, CurvesSvgPlotsTheThreeSeriesWithAxesAndLegend) {
  const std::string svg = curves_svg(history(), 10, "lenet <bn> & co");
  ASSERT_TRUE(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_GT(check_xml_nesting(svg), 50);
  EXPECT_EQ(count(svg, "<title>lenet &lt;bn&gt; &amp; co</title>"), 1);
  for (const char* id : {"train-loss", "train-acc", "test-acc"}) {
    const std::size_t start = svg.find(std::string("<g id=\"") + id + "\"");
    ASSERT_NE(start, std::string::npos) << id;
    const std::string group = svg.substr(start, svg.find("</g>", start) - start);
    EXPECT_EQ(count(group, "<polyline"), 1) << id;
    EXPECT_EQ(count(group, "<circle"), 3) << id;
  }
  for (const char* name : {">train loss</text>", ">train acc</text>", ">test acc</text>", ">epoch</text>"})
    EXPECT_EQ(count(svg, name), 1) << name;
  // x from 1 to 10 over the plot's 490 units: epoch 1 at x = 70, epoch 3 at 70 + 2/9 * 490.
  // y from 0 to the loss maximum rounded up to a tick (2.3125 -> 2.5): loss 2.3125 at
  // y = 380 - 2.3125 / 2.5 * 330 = 74.75.
  EXPECT_NE(svg.find("points=\"70.00,74.75 124.44,182.00 178.89,281.00\""), std::string::npos) << svg;
  for (const char* tick : {">0</text>", ">0.5</text>", ">2.5</text>", ">1</text>", ">10</text>"})
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
}

TEST(Report, CurvesSvgOfOneEpochAndOfNoneAreValid) {
  const std::string one = curves_svg({history()[0]}, 1, "one");
  check_xml_nesting(one);
  EXPECT_NE(one.find("<circle cx=\"315.00\""), std::string::npos);  // centred on x in [0, 2]
  const std::string none = curves_svg({}, 5, "none");
  check_xml_nesting(none);
  EXPECT_EQ(count(none, "<circle"), 0);
}
