#pragma once
// The Prometheus text exposition format (0.0.4): each family's HELP and TYPE once, then its
// samples. Label values are escaped as the format asks (\\, \" and \n): some come from
// configuration and from the network (bootstrap addresses).
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace keel::app::node_api {

class PrometheusText {
  public:
    enum class Type { counter, gauge };
    using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    // Starts the family that the samples after it belong to.
    void family(std::string_view name, Type type, std::string_view help);
    template <class Value>
    void sample(Labels labels, Value value) {
        write_name_and_labels(labels);
        out_ << ' ' << value << '\n';
    }
    // A family of one unlabelled sample.
    template <class Value>
    void gauge(std::string_view name, std::string_view help, Value value) {
        family(name, Type::gauge, help);
        sample({}, value);
    }
    template <class Value>
    void counter(std::string_view name, std::string_view help, Value value) {
        family(name, Type::counter, help);
        sample({}, value);
    }

    std::string str() const { return out_.str(); }

  private:
    void write_name_and_labels(Labels labels);

    std::ostringstream out_;
    std::string name_;  // the current family's
};

}  // namespace keel::app::node_api
