// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Forwarder (devnet)
/// @notice Moves ETH and tokens from inside a contract call, as an exchange's
/// hot wallet or a smart-contract wallet does. The ETH moves are internal
/// transactions (value sent by a CALL, not by the outer transaction) and the
/// token moves are Transfer logs emitted under a transaction whose `to` is
/// this contract, not the token: the cases a naive indexer misses.
/// The forwarder emits no events of its own, so a receipt's logs are exactly
/// the token's.
contract Forwarder {
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    /// @notice Accepts plain ETH, so the forwarder can also hold a balance.
    receive() external payable {}

    /// @notice Sends all of msg.value on to to.
    function forward(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "Forwarder: ETH transfer failed");
    }

    /// @notice Sends amounts[i] to to[i]; msg.value must equal their sum.
    function forwardBatch(address payable[] calldata to, uint256[] calldata amounts) external payable {
        require(to.length == amounts.length, "Forwarder: to and amounts differ in length");
        uint256 total;
        for (uint256 i = 0; i < to.length; i++) {
            total += amounts[i];
            (bool ok, ) = to[i].call{value: amounts[i]}("");
            require(ok, "Forwarder: ETH transfer failed");
        }
        require(total == msg.value, "Forwarder: msg.value is not the sum of amounts");
    }

    /// @notice Transfers amount of token held by this forwarder to to; owner
    /// only. Works with tokens whose transfer returns a bool and with those
    /// that return nothing (USDT): it fails only on a revert or a false.
    function forwardToken(address token, address to, uint256 amount) external {
        require(msg.sender == owner, "Forwarder: caller is not the owner");
        require(token.code.length > 0, "Forwarder: token is not a contract");
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "Forwarder: token transfer failed");
    }
}
