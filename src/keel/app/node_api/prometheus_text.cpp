#include "keel/app/node_api/prometheus_text.hpp"

namespace keel::app::node_api {

void PrometheusText::family(std::string_view name, Type type, std::string_view help) {
    name_ = name;
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' '
         << (type == Type::counter ? "counter" : "gauge") << '\n';
}

void PrometheusText::write_name_and_labels(Labels labels) {
    out_ << name_;
    if (labels.size() == 0) return;
    out_ << '{';
    bool first = true;
    for (const auto& [label, value] : labels) {
        if (!first) out_ << ',';
        first = false;
        out_ << label << "=\"";
        for (char c : value) {
            if (c == '\\' || c == '"')
                out_ << '\\' << c;
            else if (c == '\n')
                out_ << "\\n";
            else
                out_ << c;
        }
        out_ << '"';
    }
    out_ << '}';
}

}  // namespace keel::app::node_api
