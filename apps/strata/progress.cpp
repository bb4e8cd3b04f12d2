#include "progress.hpp"

#include <unistd.h>

#include <string>

namespace strata::cli {
namespace {

constexpr int kBarWidth = 24;
constexpr double kRedrawSeconds = 0.1;
constexpr double kPlainAfterSeconds = 5.0;  // no plain progress lines for epochs faster than this

std::string eta(const train::BatchProgress& p) {
  const double left = p.batch > 0 ? p.seconds / p.batch * (p.num_batches - p.batch) : 0.0;
  const auto s = static_cast<long long>(left + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

}  // namespace

EpochProgress::EpochProgress(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) != 0) {}

void EpochProgress::update(const train::BatchProgress& p) {
  if (p.batch == 1) quarters_ = 0;
  if (!tty_) {
    const int quarter = static_cast<int>(4 * p.batch / p.num_batches);
    if (quarter > quarters_ && quarter < 4 && p.seconds >= kPlainAfterSeconds) {
      quarters_ = quarter;
      std::fprintf(out_, "  epoch %lld/%lld: batch %lld/%lld, loss %.3f, train acc %.3f, %.1f examples/sec, ETA %s\n",
                   static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), static_cast<long long>(p.batch),
                   static_cast<long long>(p.num_batches), p.loss, p.train_acc, p.examples_per_sec, eta(p).c_str());
      std::fflush(out_);
    }
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (p.batch != p.num_batches && drawn_ && std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds)
    return;
  last_draw_ = now;
  drawn_ = true;
  const int filled = static_cast<int>(kBarWidth * p.batch / p.num_batches);
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kBarWidth) bar += '>';
  bar.resize(kBarWidth, ' ');
  std::fprintf(out_, "\repoch %lld/%lld [%s] %lld/%lld  loss %.3f  acc %.3f  %.0f img/s  ETA %s\033[K",
               static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), bar.c_str(),
               static_cast<long long>(p.batch), static_cast<long long>(p.num_batches), p.loss, p.train_acc,
               p.examples_per_sec, eta(p).c_str());
  std::fflush(out_);
}

void EpochProgress::finish() {
  if (tty_ && drawn_) {
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace strata::cli
