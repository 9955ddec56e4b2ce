"""Benchmark-only shim for azure.azcollection: the one function it calls that azure-cli-core no longer has.

azure.azcollection's ``azure_rm_common`` resolves a URL ``AZURE_CLOUD_ENVIRONMENT`` (Azure Stack, or the local
sandbox) with ``azure.cli.core.cloud.get_cloud_from_metadata_endpoint(url)``, a function of msrestazure's
``azure_cloud`` that azure-cli-core's ``cloud`` module does not define (azure.azcollection 3.12.0 with its pinned
azure-cli-core 2.75.0: every task fails with ``'AttributeError' object has no attribute 'message'``). On
``PYTHONPATH`` (only in the module's process: the task's ``environment``), this adds that function when
``azure.cli.core.cloud`` is imported, and nothing else: one ``GET <url>/metadata/endpoints`` (through
``requests``, which azure.azcollection imports anyway; ``REQUESTS_CA_BUNDLE`` applies), read by azure-cli-core's
own mapper of the metadata document (``_arm_to_cli_mapper``, what ``ARM_CLOUD_METADATA_URL`` uses).
"""

import importlib.abc
import importlib.util
import sys

_MODULE = "azure.cli.core.cloud"


def _get_cloud_from_metadata_endpoint(cloud_module):
    def get_cloud_from_metadata_endpoint(arm_endpoint, name=None, session=None):
        import requests  # pylint: disable=import-outside-toplevel

        url = arm_endpoint.rstrip("/") + "/metadata/endpoints?api-version=2022-09-01"
        response = (session or requests).get(url, timeout=30)
        response.raise_for_status()
        document = response.json()
        clouds = document if isinstance(document, list) else [document]
        wanted = arm_endpoint.rstrip("/") + "/"
        found = [item for item in clouds if item.get("resourceManager", "").rstrip("/") + "/" == wanted] or clouds
        cloud = cloud_module._arm_to_cli_mapper(found[0])  # pylint: disable=protected-access
        if name:
            cloud.name = name
        return cloud
    return get_cloud_from_metadata_endpoint


class _AddMissingFunction(importlib.abc.MetaPathFinder):
    """Finds ``azure.cli.core.cloud`` as usual and adds the function after the module ran."""

    def find_spec(self, fullname, path, target=None):  # pylint: disable=unused-argument
        if fullname != _MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            if not hasattr(module, "get_cloud_from_metadata_endpoint"):
                module.get_cloud_from_metadata_endpoint = _get_cloud_from_metadata_endpoint(module)
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AddMissingFunction())
