"""libvirt network XML: read it, print it as `.net` source, and compile it like `.net` source."""

from .convert import Imported, import_sources, looks_like_xml, networks_from_xml, read_xml

__all__ = ["Imported", "import_sources", "looks_like_xml", "networks_from_xml", "read_xml"]
