"""k8s.V1Anything(**fields): records the class used and serialises as the real
client does (snake_case attributes become the API's camelCase names; a leading
underscore, as in _exec, is dropped). Field names are not checked here: the
test validates the JSON against Kubernetes' schema, strictly."""

USED = set()


def _camel(name):
    parts = name.lstrip("_").split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def to_api(value):
    if isinstance(value, Model):
        return {_camel(k): to_api(v) for k, v in value.fields.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_api(v) for v in value]
    if isinstance(value, dict):
        return {k: to_api(v) for k, v in value.items()}
    return value


class Model:
    def __init__(self, *args, **fields):
        if args:
            raise TypeError(f"{type(self).__name__}() takes keyword arguments only")
        self.fields = fields


def __getattr__(name):
    if not name.startswith("V"):
        raise AttributeError(name)
    USED.add(name)
    cls = type(name, (Model,), {})
    globals()[name] = cls
    return cls
