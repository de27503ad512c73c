#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tidepool {

bool Json::as_bool() const {
  if (kind_ != Kind::Bool) throw JsonError("expected a boolean");
  return bool_;
}
double Json::as_double() const {
  if (kind_ != Kind::Number) throw JsonError("expected a number");
  return num_;
}
int64_t Json::as_int() const {
  if (kind_ != Kind::Number) throw JsonError("expected an integer");
  if (is_int_) return int_;
  if (std::floor(num_) != num_ || std::fabs(num_) > 9.007199254740992e15) throw JsonError("expected an integer");
  return static_cast<int64_t>(num_);
}
const std::string& Json::as_string() const {
  if (kind_ != Kind::String) throw JsonError("expected a string");
  return str_;
}
const Json::Array& Json::as_array() const {
  if (kind_ != Kind::Array) throw JsonError("expected an array");
  return arr_;
}
Json::Array& Json::as_array() {
  if (kind_ != Kind::Array) throw JsonError("expected an array");
  return arr_;
}
const Json::Object& Json::as_object() const {
  if (kind_ != Kind::Object) throw JsonError("expected an object");
  return obj_;
}
const Json* Json::find(const std::string& key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (const auto& kv : obj_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
Json& Json::set(const std::string& key, Json value) {
  if (kind_ == Kind::Null) kind_ = Kind::Object;
  if (kind_ != Kind::Object) throw JsonError("set on a non-object");
  for (auto& kv : obj_)
    if (kv.first == key) return kv.second = std::move(value);
  obj_.emplace_back(key, std::move(value));
  return obj_.back().second;
}
void Json::push(Json value) {
  if (kind_ == Kind::Null) kind_ = Kind::Array;
  if (kind_ != Kind::Array) throw JsonError("push on a non-array");
  arr_.push_back(std::move(value));
}
size_t Json::size() const { return kind_ == Kind::Array ? arr_.size() : kind_ == Kind::Object ? obj_.size() : 0; }

void json_append_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {  // JSON has no inf/nan; null keeps the document valid
    out += "null";
    return;
  }
  char buf[32];
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  out += buf;
}

void Json::dump_to(std::string& out) const {
  switch (kind_) {
    case Kind::Null:
      out += "null";
      break;
    case Kind::Bool:
      out += bool_ ? "true" : "false";
      break;
    case Kind::Number:
      if (is_int_) out += std::to_string(int_);
      else json_append_number(out, num_);
      break;
    case Kind::String:
      json_append_string(out, str_);
      break;
    case Kind::Array:
      out += '[';
      for (size_t i = 0; i < arr_.size(); i++) {
        if (i) out += ',';
        arr_[i].dump_to(out);
      }
      out += ']';
      break;
    case Kind::Object:
      out += '{';
      for (size_t i = 0; i < obj_.size(); i++) {
        if (i) out += ',';
        json_append_string(out, obj_[i].first);
        out += ':';
        obj_[i].second.dump_to(out);
      }
      out += '}';
      break;
  }
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

class JsonParser {
 public:
  JsonParser(const char* p, size_t n) : p_(p), end_(p + n) {}

  Json parse_document() {
    Json v = parse_value(0);
    skip_ws();
    if (p_ != end_) fail("trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;
  const char* p_;
  const char* end_;

  [[noreturn]] void fail(const char* what) { throw JsonError(std::string("malformed JSON: ") + what); }
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) p_++;
  }
  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    skip_ws();
    if (p_ == end_) fail("unexpected end");
    char c = *p_;
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (literal("true")) return Json(true);
    if (literal("false")) return Json(false);
    if (literal("null")) return Json();
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    fail("unexpected character");
  }

  Json parse_object(int depth) {
    Json obj = Json::object();
    p_++;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      p_++;
      return obj;
    }
    for (;;) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') fail("expected a key");
      std::string key = parse_string();
      skip_ws();
      if (p_ == end_ || *p_ != ':') fail("expected ':'");
      p_++;
      obj.obj_.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (p_ == end_) fail("unexpected end in object");
      if (*p_ == ',') {
        p_++;
        continue;
      }
      if (*p_ == '}') {
        p_++;
        return obj;
      }
      fail("expected ',' or '}'");
    }
  }

  Json parse_array(int depth) {
    Json arr = Json::array();
    p_++;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      p_++;
      return arr;
    }
    for (;;) {
      arr.arr_.push_back(parse_value(depth + 1));
      skip_ws();
      if (p_ == end_) fail("unexpected end in array");
      if (*p_ == ',') {
        p_++;
        continue;
      }
      if (*p_ == ']') {
        p_++;
        return arr;
      }
      fail("expected ',' or ']'");
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (end_ - p_ < 4) fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
      char h = *p_++;
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    p_++;
    std::string out;
    for (;;) {
      if (p_ == end_) fail("unterminated string");
      char c = *p_++;
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ == end_) fail("unterminated escape");
      char e = *p_++;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            p_ += 2;
            uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  Json parse_number() {
    const char* start = p_;
    bool integral = true;
    if (*p_ == '-') p_++;
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) fail("bad number");
    while (p_ < end_ &&
           ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E' || *p_ == '+' || *p_ == '-')) {
      if (*p_ == '.' || *p_ == 'e' || *p_ == 'E') integral = false;
      p_++;
    }
    std::string text(start, p_);
    char* stop = nullptr;
    double d = std::strtod(text.c_str(), &stop);
    if (stop != text.c_str() + text.size()) fail("bad number");
    // JSON has no inf; 1e999 would reach configs and sampling parameters as one, and dump as null.
    if (!std::isfinite(d)) fail("number out of range");
    if (integral && text.size() < 19) return Json(static_cast<int64_t>(std::strtoll(text.c_str(), nullptr, 10)));
    if (integral && text.size() <= 20 && text[0] != '-') {  // u64 seeds and offsets
      errno = 0;
      unsigned long long u = std::strtoull(text.c_str(), nullptr, 10);
      if (errno != ERANGE) return Json(static_cast<int64_t>(u));  // past u64 it stays a double, not a clamped -1
    }
    return Json(d);
  }
};

Json Json::parse(const char* data, size_t size) { return JsonParser(data, size).parse_document(); }
Json Json::parse(const std::string& text) { return parse(text.data(), text.size()); }

}  // namespace tidepool
